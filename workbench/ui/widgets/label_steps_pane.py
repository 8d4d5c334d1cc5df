"""The Label panel's step mode (issue #17): choose how responses are split (previewed on the response shown), then
rate each step with one key. Keys (remappable, label_steps_keymap.py): G/= good, N/0 neutral, B/- bad, E first error
here, A no error, Delete clear, Up/Down (K/J) move between steps, PgDown/Enter next response, PgUp previous,
Backspace/Ctrl+Z undo, Ctrl+Shift+Z redo, ? keys. All store work goes through StepLabelSession on the DB thread.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from workbench.core.entities import Objective
from workbench.core.steps import BAD, GOOD, NEUTRAL, SPLIT_MODE_LABELS, SPLIT_MODES, StepSplit
from workbench.services.step_label_queries import responses_left
from workbench.services.step_label_session import StepLabelSession, StepScreen
from workbench.ui.errors import run_task, show_error
from workbench.ui.widgets.label_steps_keymap import StepKeyMap
from workbench.ui.widgets.label_steps_view import StepsView

SPLIT_KEY = "label/step_split"  # QSettings: "mode" or "regex:<pattern>"
RATE_ACTIONS = {"good": GOOD, "neutral": NEUTRAL, "bad": BAD, "clear": None}
QUEUE_ORDERS = ("random", "in_order")  # the step queue's orders; the pair-only ones fall back to random


class StepLabelPane(QWidget):
    """See the module docstring; `start()` begins a session for one annotator and one objective."""

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.keymap = StepKeyMap.load(ctx.settings)
        self.session: StepLabelSession | None = None
        self.objective: Objective | None = None
        self.left_at_start: int | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.mode = QComboBox()
        for mode in SPLIT_MODES:
            self.mode.addItem(SPLIT_MODE_LABELS[mode], mode)
        self.mode.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.pattern = QLineEdit()
        self.pattern.setPlaceholderText(r"regex where a step starts, e.g. ^\d+\.  (Enter applies)")
        self.split_note = QLabel("")
        self.split_note.setObjectName("hint")
        self._load_split()
        self.mode.currentIndexChanged.connect(lambda _: self.apply_split())
        self.pattern.returnPressed.connect(self.apply_split)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Split into steps:"))
        bar.addWidget(self.mode)
        bar.addWidget(self.pattern, 1)
        bar.addWidget(self.split_note, 1)
        self.view = StepsView()
        self.view.table.cellClicked.connect(lambda row, _col: self.focus_step(row))
        self.key_hint = QLabel("")
        self.key_hint.setObjectName("hint")
        self.progress = QLabel("Pick an annotator and one objective, choose the split, press Start labelling.")
        self.progress.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.key_hint)
        layout.addWidget(self.progress)
        self.show_key_hint()

    # --- split ----------------------------------------------------------------------------------------------
    def _load_split(self) -> None:
        stored = str(self.ctx.settings.value(SPLIT_KEY, "line") or "line")
        mode, _, pattern = stored.partition(":")
        self.mode.setCurrentIndex(max(0, self.mode.findData(mode)))
        self.pattern.setText(pattern)
        self.pattern.setEnabled(mode == "regex")

    def split(self) -> StepSplit:
        mode = self.mode.currentData()
        return StepSplit(mode, self.pattern.text() if mode == "regex" else "")

    def set_split(self, mode: str, pattern: str = "") -> None:
        """Choose the split (as the combo box and the regex field do)."""
        self.pattern.setText(pattern)
        if self.mode.currentData() == mode:
            self.apply_split()
        else:
            self.mode.setCurrentIndex(self.mode.findData(mode))

    def apply_split(self) -> None:
        split = self.split()
        self.pattern.setEnabled(split.mode == "regex")
        self.ctx.settings.setValue(SPLIT_KEY, split.mode + (f":{split.pattern}" if split.pattern else ""))
        if split.mode == "regex" and not split.pattern:
            self.split_note.setText("type the regular expression and press Enter")
            return
        note = self.session.set_split(split) if self.session is not None else ""
        self.split_note.setText(note)
        self.setFocus()

    # --- session --------------------------------------------------------------------------------------------
    def start(self, annotator_id: int, objectives: list[Objective], overlap: int, order: str) -> bool:
        """Start labelling the steps of responses; False (and a message) unless exactly one objective is chosen."""
        if len(objectives) != 1:
            show_error(self, "Step labels", "Step labels are given for one objective at a time: choose "
                       "“Only: <objective>” in the objectives list, then Start labelling.")
            return False
        self.stop()
        self.objective = objectives[0]
        self.session = StepLabelSession(self.ctx.db, annotator_id, self.objective.id, self.split(), overlap=overlap,
                                        order=order if order in QUEUE_ORDERS else "random", parent=self)
        self.session.screen_ready.connect(self._on_screen)
        self.session.focus_changed.connect(self.view.set_focus_row)
        self.session.label_committed.connect(lambda _: self._update_progress())
        self.session.label_retracted.connect(lambda _: self._update_progress())
        self.session.failed.connect(lambda msg: show_error(self, "Step labels", msg))
        self.left_at_start = None
        self.session.start()
        run_task(self._count_left(annotator_id, self.objective.id, overlap, self.session), self,
                 "Could not count the responses left")
        self.setFocus()
        return True

    async def _count_left(self, annotator_id: int, objective_id: int, overlap: int, session) -> None:
        left = await self.ctx.db.call(responses_left, annotator_id, objective_id, overlap)
        if session is self.session:
            self.left_at_start = left
            self._update_progress()

    def stop(self) -> None:
        if self.session is not None:
            self.session.deleteLater()
            self.session = None
        self.view.show_screen(None)

    def _on_screen(self, screen: StepScreen | None) -> None:
        self.view.show_screen(screen)
        if screen is not None:
            fixed = " (fixed: " + ("steps from a file" if screen.mode == "imported" else "labelled") + ")" \
                if screen.locked else ""
            self.view.steps_title.setText(f"{len(screen.steps)} steps{fixed}" + (
                f" — {screen.problem}" if screen.problem else ""))
        self._update_progress()

    def _update_progress(self) -> None:
        s = self.session
        if s is None:
            return
        done = sum(1 for sc in s.visited if sc.complete())
        left = None if self.left_at_start is None else max(0, self.left_at_start - done)
        speed = s.labels_per_hour()
        text = (f"{self.objective.name if self.objective else ''}: {s.labelled} key{'s' if s.labelled != 1 else ''} "
                f"this session · {done} response{'s' if done != 1 else ''} done"
                + (f" · {left:,} left" if left is not None else "")
                + (f" · {speed:,.0f} labels/hour" if speed is not None else ""))
        if s.current is None and not s.waiting():
            text += " — No response left to step-label for this annotator (or each has enough annotators)."
        self.progress.setText(text)

    def focus_step(self, row: int) -> None:
        """A click on a step focuses it for the next key."""
        if self.session is not None and self.session.current is not None:
            self.session.move(row - self.session.focus)
        self.setFocus()

    # --- keys -----------------------------------------------------------------------------------------------
    def show_key_hint(self) -> None:
        k = self.keymap.keys
        parts = [(k("good"), "good"), (k("neutral"), "neutral"), (k("bad"), "bad"), (k("first_error"), "first error"),
                 (k("no_error"), "all good"), (k("step_down")[:1] + k("step_up")[:1], "move"),
                 (k("next_response")[:1] + k("previous_response")[:1], "next / previous"), (k("undo"), "undo"),
                 (k("help"), "all keys")]
        self.key_hint.setText("   ·   ".join(f"{' / '.join(keys)}: {text}" for keys, text in parts if keys))

    def set_keymap(self, keymap: StepKeyMap) -> None:
        self.keymap = keymap
        keymap.save(self.ctx.settings)
        self.show_key_hint()

    def event(self, event: QEvent) -> bool:  # noqa: D401 - Qt override
        """Claim our keys before window shortcuts (Ctrl+Z is also Edit ▸ Undo) while labelling steps."""
        if (event.type() == QEvent.Type.ShortcutOverride and self.session is not None
                and not self.pattern.hasFocus() and self.keymap.action_for(event) is not None):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        action = self.keymap.action_for(event)
        if action is None or not self.perform(action):
            super().keyPressEvent(event)

    def perform(self, action: str) -> bool:
        """Do what a key of the step key map does; False when it does not apply now."""
        if action == "help":
            from workbench.ui.dialogs.keymap_dialog import show_key_help

            show_key_help(self, self.keymap)
            return True
        s = self.session
        if s is None:
            return False
        if action in RATE_ACTIONS:
            return s.rate(RATE_ACTIONS[action]) is not None
        if action in ("first_error", "no_error"):
            return s.first_error(no_error=action == "no_error") is not None
        if action in ("step_up", "step_down"):
            s.move(-1 if action == "step_up" else 1)
            return True
        if action == "next_response":
            return s.next()
        if action == "previous_response":
            return s.previous()
        if action == "undo":
            return s.undo() is not None
        if action == "redo":
            return s.redo() is not None
        return False
