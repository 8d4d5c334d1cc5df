"""The hypervolume reference point of the project, one row per reward axis: its value and where it came from
(the untrained base model, or set by the user). A checked "set" box makes the value the user's; unchecking it
hands the axis back to the base model (filled again by the next evaluation that includes the base model).
The rule itself is workbench.core.hv_reference; the store keeps the values (workbench.store.hv_reference)."""

from __future__ import annotations

import math

from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QGridLayout, QLabel,
                               QVBoxLayout, QWidget)

from workbench.core.hv_reference import BASE_MODEL, USER, ReferencePoint


class ReferenceDialog(QDialog):
    """`values()` -> {axis: value (set by the user) or None (back to the base model)} once accepted."""

    def __init__(self, axes: list[str], reference: ReferencePoint, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Hypervolume reference point")
        self.axes = list(axes)
        self.spins: dict[str, QDoubleSpinBox] = {}
        self.checks: dict[str, QCheckBox] = {}
        intro = QLabel("The hypervolume of every front in this project is measured from this point, so fronts of "
                       "different runs compare. By default it is the untrained base model's reward vector.")
        intro.setWordWrap(True)
        grid = QGridLayout()
        for row, axis in enumerate(self.axes):
            value = reference.values.get(axis, math.nan)
            source = reference.sources.get(axis, BASE_MODEL) if math.isfinite(value) else "not measured yet"
            spin = QDoubleSpinBox()
            spin.setRange(-1e9, 1e9)
            spin.setDecimals(4)
            spin.setValue(value if math.isfinite(value) else 0.0)
            check = QCheckBox("set by me")
            check.setChecked(source == USER)
            spin.setEnabled(check.isChecked())
            check.toggled.connect(spin.setEnabled)
            grid.addWidget(QLabel(axis), row, 0)
            grid.addWidget(spin, row, 1)
            grid.addWidget(check, row, 2)
            grid.addWidget(QLabel(source), row, 3)
            self.spins[axis], self.checks[axis] = spin, check
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(grid)
        lay.addWidget(buttons)

    def values(self) -> dict[str, float | None]:
        return {a: self.spins[a].value() if self.checks[a].isChecked() else None for a in self.axes}
