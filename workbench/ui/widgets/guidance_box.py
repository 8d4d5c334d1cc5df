"""The playground's "Reward-guided decoding" settings (issue #17 item 5): off, PRM step search (k candidates per
step, the best by a process reward model kept) or best-of-N by a vector reward model (under the steering
weights); the checkpoint folder of the PRM or reward-model run, and how many candidates.

`guide()` is the `guide` object of a generate request (inference/guided_requests.py), None when off; `problem()`
says in words what is missing before a request is sent. The worker checks everything again.

The project's checkpoints of each kind (`set_choices`, newest run first) fill the Checkpoint field when a guide is
chosen and the field is empty (or still holds what was filled in for the other guide); Browse… picks any folder.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLineEdit, QPushButton,
                               QSpinBox, QWidget)

MODES = {"": "Off (plain sampling)", "prm_steps": "PRM step search",
         "best_of_n": "Best-of-N by reward model (steering weights)"}
_WHAT = {"prm_steps": "process reward model (a prm run's checkpoint)",
         "best_of_n": "reward model (a reward_model run's checkpoint)"}


class GuidanceBox(QGroupBox):
    """See the module docstring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Reward-guided decoding", parent)
        self.mode = QComboBox()
        for key, text in MODES.items():
            self.mode.addItem(text, key)
        self.mode.currentIndexChanged.connect(lambda _: self._update())
        self.checkpoint = QLineEdit()
        self.checkpoint.setPlaceholderText("checkpoint folder (runs/…/checkpoints/step-N)")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        self.candidates = QSpinBox()
        self.candidates.setRange(2, 16)
        self.candidates.setValue(4)
        self.max_steps = QSpinBox()
        self.max_steps.setRange(1, 200)
        self.max_steps.setValue(20)
        row = QHBoxLayout()
        row.addWidget(self.checkpoint, 1)
        row.addWidget(self.browse_button)
        form = QFormLayout(self)
        form.addRow("Guide", self.mode)
        form.addRow("Checkpoint", row)
        form.addRow("Candidates per step", self.candidates)
        form.addRow("Max steps", self.max_steps)
        self._form = form
        self.choices: dict[str, list[tuple[str, str]]] = {}  # mode -> (label, checkpoint folder), newest first
        self._filled = ""  # the checkpoint this box filled in itself (replaced when the guide changes)
        self._update()

    def set_choices(self, choices: dict[str, list[tuple[str, str]]]) -> None:
        """The project's PRM ("prm_steps") and reward-model ("best_of_n") checkpoints, newest first."""
        self.choices = {mode: list(rows) for mode, rows in choices.items()}
        self._fill()

    def _fill(self) -> None:
        mode = self.current_mode
        text = self.checkpoint.text().strip()
        if mode and (not text or text == self._filled):
            rows = self.choices.get(mode, [])
            self._filled = rows[0][1] if rows else ""
            self.checkpoint.setText(self._filled)

    @property
    def current_mode(self) -> str:
        return str(self.mode.currentData() or "")

    def set_mode(self, mode: str) -> None:
        self.mode.setCurrentIndex(max(0, self.mode.findData(mode)))

    def _update(self) -> None:
        mode = self.current_mode
        for w in (self.checkpoint, self.browse_button, self.candidates):
            w.setEnabled(bool(mode))
        self.max_steps.setEnabled(mode == "prm_steps")
        self.candidates.setToolTip("candidates sampled per step; the PRM keeps the best" if mode == "prm_steps"
                                   else "samples drawn; the reward model's weighted score picks one")
        label = self._form.labelForField(self.candidates)
        if label is not None:
            label.setText("Samples (N)" if mode == "best_of_n" else "Candidates per step")
        self._fill()
        rows = self.choices.get(mode, [])
        known = "; in this project: " + ", ".join(label for label, _ in rows) if rows else ""
        self.checkpoint.setToolTip(f"the {_WHAT[mode]}{known}" if mode else "")

    def browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Checkpoint folder", self.checkpoint.text())
        if path:
            self.checkpoint.setText(path)

    def problem(self) -> str:
        mode = self.current_mode
        if mode and not self.checkpoint.text().strip():
            return f"Choose the {_WHAT[mode]} folder to guide with, or set Guide to Off."
        return ""

    def guide(self) -> dict[str, Any] | None:
        mode = self.current_mode
        if not mode:
            return None
        guide: dict[str, Any] = {"mode": mode, "checkpoint": self.checkpoint.text().strip()}
        if mode == "prm_steps":
            guide.update(k=self.candidates.value(), max_steps=self.max_steps.value())
        else:
            guide["n"] = self.candidates.value()
        return guide
