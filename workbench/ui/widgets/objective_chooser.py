"""The "Objectives to label now" dialog of the Label panel (issue #13): one tick per objective."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from workbench.core.entities import Objective


def objective_chooser(parent: QWidget, objectives: Sequence[Objective], selected: Sequence[int],
                      on_chosen: Callable[[list[int]], None]) -> QDialog:
    """Open (non-modal) a dialog of ticks, all ticked when nothing was chosen yet; OK calls on_chosen(ids)."""
    dlg = QDialog(parent)
    dlg.setWindowTitle("Objectives to label now")
    layout = QVBoxLayout(dlg)
    boxes = []
    for obj in objectives:
        box = QCheckBox(obj.name)
        box.setChecked(obj.id in selected or not selected)
        box.setProperty("objective_id", obj.id)
        layout.addWidget(box)
        boxes.append(box)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dlg.accept)
    buttons.rejected.connect(dlg.reject)
    layout.addWidget(buttons)
    dlg.accepted.connect(lambda: on_chosen([b.property("objective_id") for b in boxes if b.isChecked()]))
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    dlg.open()
    return dlg
