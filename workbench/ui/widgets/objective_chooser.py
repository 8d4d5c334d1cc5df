"""Which objectives the Label panel asks about (issue #13): the mode box (all / only one / the ticked ones) and the
"Objectives to label now" dialog of ticks behind its last entry."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from workbench.core.entities import Objective

ALL_OBJECTIVES = "All objectives (one row each)"
SOME_OBJECTIVES = "some"  # the entry whose objectives the person ticked (ObjectiveModeBox.choose)


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


class ObjectiveModeBox(QComboBox):
    """"All objectives", "Only: NAME" per objective, and "Objectives: ..." (the ticked ones; "Choose objectives…"
    opens the ticks). `chosen()` is what a session started now labels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip("Which objectives each screen asks about (one row each)")
        self.objectives: list[Objective] = []
        self.some: list[int] = []  # the ticked objectives of the "Objectives: ..." entry
        self.dialog: QDialog | None = None
        self.activated.connect(lambda i: self.choose_dialog() if self.itemData(i) == SOME_OBJECTIVES else None)

    def set_objectives(self, objectives: Sequence[Objective]) -> None:
        """The project's objectives (after a reload); the entry shown before stays when it still exists."""
        shown = self.currentText()
        self.objectives = list(objectives)
        self.clear()
        self.addItem(ALL_OBJECTIVES, None)
        for obj in self.objectives:
            self.addItem(f"Only: {obj.name}", obj.id)
        known = {o.id for o in self.objectives}
        self.some = [i for i in self.some if i in known]
        self.addItem(self._some_text(), SOME_OBJECTIVES)
        if self.findText(shown) >= 0:
            self.setCurrentText(shown)

    def chosen(self) -> list[Objective]:
        """The objectives of the entry shown (none when the ticked set is empty)."""
        only = self.currentData()
        if only == SOME_OBJECTIVES:
            return [o for o in self.objectives if o.id in self.some]
        return [o for o in self.objectives if only is None or o.id == only]

    def only(self) -> int | None:
        """The objective id of an "Only: NAME" entry, else None."""
        data = self.currentData()
        return data if isinstance(data, int) else None

    def choose_dialog(self) -> QDialog:
        """Tick the objectives to label now (each screen asks one row per ticked objective)."""
        self.dialog = objective_chooser(self.parentWidget() or self, self.objectives, self.some, self.choose)
        return self.dialog

    def choose(self, objective_ids: Sequence[int]) -> None:
        """Label these objectives now (the entry shows their names); takes effect at the next session start."""
        self.some = [o.id for o in self.objectives if o.id in set(objective_ids)]
        i = self.findData(SOME_OBJECTIVES)
        self.setItemText(i, self._some_text())
        self.setCurrentIndex(i)

    def _some_text(self) -> str:
        names = [o.name for o in self.objectives if o.id in self.some]
        return f"Objectives: {', '.join(names)}" if names else "Choose objectives…"
