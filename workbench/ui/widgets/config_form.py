"""A form built from RunConfig's field metadata: one editor per field, its help text as the tooltip.

The dataclass is the single source of truth for names, defaults, choices and help (TRL's habit of typed configs whose
fields carry their help text), so the dialog never drifts from what the worker reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QSpinBox, QWidget

from workbench.core.run_config import RunConfig

FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
_DEFAULTS = RunConfig()


def field_label(name: str) -> str:
    special = {"lora_r": "LoRA rank", "lora_alpha": "LoRA alpha", "lora_dropout": "LoRA dropout",
               "rpo_alpha": "RPO α", "f_alpha": "f-divergence α", "simpo_gamma": "SimPO γ", "orpo_lambda": "ORPO λ",
               "discopop_tau": "DiscoPOP τ", "beta": "β", "wpo": "WPO weighting", "modpo_target": "MODPO target",
               "prm_head": "PRM head", "prm_beta": "PRM β (implicit head)",
               "rm_center_coefficient": "Reward centring (reward model)"}
    return special.get(name, name.replace("_", " ").capitalize())


class ConfigForm(QWidget):
    """Editors for the named RunConfig fields; `changed` fires on any edit."""

    changed = Signal()

    def __init__(self, names: Iterable[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editors: dict[str, QWidget] = {}
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for name in names:
            editor = self._editor(name)
            editor.setToolTip(FIELDS[name].metadata.get("help", ""))
            editor.setObjectName(name)
            self.editors[name] = editor
            layout.addRow(field_label(name), editor)
            layout.labelForField(editor).setToolTip(editor.toolTip())

    def _editor(self, name: str) -> QWidget:
        default = getattr(_DEFAULTS, name)
        choices = FIELDS[name].metadata.get("choices")
        if choices:
            box = QComboBox()
            box.addItems(list(choices))
            box.currentIndexChanged.connect(self.changed)
            return box
        if isinstance(default, bool):
            check = QCheckBox()
            check.toggled.connect(self.changed)
            return check
        if isinstance(default, int):
            spin = QSpinBox()
            spin.setRange(0, 10_000_000)
            spin.valueChanged.connect(self.changed)
            return spin
        edit = QLineEdit()
        if isinstance(default, float):
            validator = QDoubleValidator(edit)
            validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
            edit.setValidator(validator)
        edit.textChanged.connect(self.changed)
        return edit

    def set_values(self, cfg: RunConfig) -> None:
        for name, editor in self.editors.items():
            value = getattr(cfg, name)
            editor.blockSignals(True)
            if isinstance(editor, QComboBox):
                editor.setCurrentText(str(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QSpinBox):
                editor.setValue(int(value))
            else:
                editor.setText(_format(value))
            editor.blockSignals(False)
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        """The edited values, typed like the dataclass defaults (ValueError names a field that does not parse)."""
        out: dict[str, Any] = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QComboBox):
                out[name] = editor.currentText()
            elif isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, QSpinBox):
                out[name] = editor.value()
            elif isinstance(getattr(_DEFAULTS, name), float):
                try:
                    out[name] = float(editor.text().replace(",", "."))
                except ValueError:
                    raise ValueError(f"{field_label(name)} must be a number") from None
            else:
                out[name] = editor.text().strip()
        return out


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
