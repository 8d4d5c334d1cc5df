"""Remapping the labelling keys (saved in QSettings by the Label panel) and the '?' key-map overview."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QKeySequenceEdit, QLabel,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.ui.widgets.label_keymap import KeyMap


class KeyMapDialog(QDialog):
    """One primary key per action (the second default, e.g. ←, stays as an alternative unless it clashes)."""

    def __init__(self, keymap: KeyMap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Labelling keys")
        self.original = keymap
        self.edits: dict[str, QKeySequenceEdit] = {}
        self.actions = keymap.actions  # the pair screen's or the step screen's actions
        form = QFormLayout()
        for action, (desc, _) in self.actions.items():
            keys = keymap.keys(action)
            edit = QKeySequenceEdit(QKeySequence(keys[0] if keys else ""))
            edit.setMaximumSequenceLength(1)
            edit.keySequenceChanged.connect(lambda _=None: self._check())
            self.edits[action] = edit
            form.addRow(desc, edit)
        self.problem = QLabel("")
        self.problem.setObjectName("hint")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

    def set_key(self, action: str, key: str) -> None:
        self.edits[action].setKeySequence(QKeySequence(key))

    def restore_defaults(self) -> None:
        for action, (_, keys) in self.actions.items():
            self.set_key(action, keys[0])

    def keymap(self) -> KeyMap:
        """The edited map: the chosen key first, then the old alternatives that no other action now uses."""
        primary = {a: e.keySequence().toString(QKeySequence.SequenceFormat.PortableText) for a, e in self.edits.items()}
        taken = {k for k in primary.values() if k}
        bindings = {}
        for action, key in primary.items():
            extras = [k for k in self.original.keys(action)[1:] if k not in taken and k != key]
            bindings[action] = tuple([key] if key else []) + tuple(extras)
        return type(self.original)(bindings)

    def _check(self) -> None:
        clashes = self.keymap().conflicts()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not clashes)
        self.problem.setText("" if not clashes else
                             f"“{clashes[0][0]}” is used for both {self.actions[clashes[0][1]][0].lower()} and "
                             f"{self.actions[clashes[0][2]][0].lower()}: choose another key.")


def show_key_help(parent: QWidget, keymap: KeyMap) -> QDialog:
    """A non-modal table of the current key map (the '?' key)."""
    dlg = QDialog(parent)
    dlg.setWindowTitle("Labelling keys")
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    rows = keymap.help_rows()
    table = QTableWidget(len(rows), 2)
    table.setHorizontalHeaderLabels(["Key", "Does"])
    for r, (key, text) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(key))
        table.setItem(r, 1, QTableWidgetItem(text))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().hide()
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dlg.close)
    layout = QVBoxLayout(dlg)
    layout.addWidget(table)
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(buttons)
    layout.addLayout(row)
    dlg.resize(460, 380)
    dlg.setObjectName("key_help")
    dlg.open()
    return dlg
