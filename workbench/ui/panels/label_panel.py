"""Label panel: keyboard-first preference labelling, one screen per pair, one row per objective.

The annotator is picked at the start (no passwords). Keys (remappable, see label_keymap): 1/← prefer the left
response, 2/→ the right one, T tie, S skip, Shift+1..3 strength, N note, Backspace/Ctrl+Z undo, Ctrl+Shift+Z redo,
? key map, Y confirms a reward model's suggested label (when "Model suggestions" is ticked, widgets/label_suggestion).
Each key answers the focused objective row; after the last row the next (prefetched) pair appears.
Labels of other annotators are never shown. All store work goes through LabelSession on the DB thread.
Pairs / Steps switches to rating the steps of responses (issue #17): widgets/label_steps_pane.py.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from workbench.core.entities import Objective
from workbench.core.rm_suggestions import confirmed_note
from workbench.services.context import AppContext
from workbench.services.label_queries import add_annotator, annotator_total, load_people, pairs_left, project_pairs
from workbench.services.label_session import ORDER_KEY, ORDERS, LabelSession, Screen
from workbench.ui.dialogs.keymap_dialog import KeyMapDialog, show_key_help
from workbench.ui.errors import run_task, show_error
from workbench.ui.widgets.label_keymap import KeyMap
from workbench.ui.widgets.label_pair_view import PairView
from workbench.ui.widgets.label_rows import LabelRows
from workbench.ui.widgets.label_steps_pane import StepLabelPane
from workbench.ui.widgets.label_suggestion import SuggestionBar
from workbench.ui.widgets.objective_chooser import ObjectiveModeBox
from workbench.ui.widgets.round_label_mode import RoundLabelMode
from workbench.ui.panels.deferred_reload import DeferredReload

OVERLAP_KEY = "label/overlap"
CHOICE_ACTIONS = {"prefer_left": "left", "prefer_right": "right", "tie": "tie", "skip": "skip"}


class LabelPanel(DeferredReload, QWidget):
    """See the module docstring."""

    title = "Label"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.keymap = KeyMap.load(ctx.settings)
        self.objectives: list[Objective] = []
        self.session: LabelSession | None = None
        self.left_at_start: int | None = None  # pairs open for this session's queue when it started
        self.project_pairs: int | None = None  # pairs in the project (counted at the session's start)
        self.seen_pairs: set[int] = set()
        self.session_objectives: list[Objective] = []
        self.pending_note = ""
        self.total_before = 0
        self.advance_ms: list[float] = []  # key that finished a screen -> next pair rendered
        self._key_t0: float | None = None
        self._build()
        ctx.project_changed.connect(self.reload)
        ctx.data_changed.connect(lambda what: self._later_reload() if what in ("objectives", "annotators") else None)
        self.reload()

    # --- layout ---------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.annotator = QComboBox()
        self.annotator.setMinimumWidth(140)
        self.new_name = QLineEdit()
        self.new_name.setPlaceholderText("new annotator name")
        self.new_name.setMinimumWidth(150)
        self.new_button = QPushButton("Add annotator")
        self.new_button.clicked.connect(self.create_annotator)
        self.mode = ObjectiveModeBox(self)
        self.order = QComboBox()
        for key, text in ORDERS.items():
            self.order.addItem(text, key)
        self.order.setCurrentIndex(max(0, self.order.findData(self.ctx.settings.value(ORDER_KEY, "random"))))
        self.order.currentIndexChanged.connect(
            lambda _: self.ctx.settings.setValue(ORDER_KEY, self.order.currentData()))
        self.overlap = QSpinBox()
        self.overlap.setRange(1, 20)
        self.overlap.setPrefix("overlap ")
        self.overlap.setToolTip("How many people should label each pair, per objective (imported labels and skips "
                                "do not count)")
        self.overlap.setValue(_int_setting(self.ctx.settings.value(OVERLAP_KEY, 1), 1))
        self.overlap.valueChanged.connect(lambda v: self.ctx.settings.setValue(OVERLAP_KEY, int(v)))
        self.start_button = QPushButton("Start labelling")
        self.start_button.clicked.connect(self.start_session)
        self.raw_box = QCheckBox("Raw text")
        self.raw_box.setToolTip("Show the responses as they were written, not rendered as Markdown")
        self.raw_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the labelling rows
        self.raw_box.toggled.connect(lambda on: self.pair_view.set_raw(on))
        self.keys_button = QPushButton("Keys…")
        self.keys_button.clicked.connect(self.edit_keys)
        self.pairs_button = QPushButton("Pairs…")
        self.pairs_button.setToolTip("Browse pairs by objective, label state, annotator, disagreement or text; "
                                     "open one to relabel it")
        self.pairs_button.clicked.connect(lambda: self.show_pairs())
        self.agreement_button = QPushButton("Agreement…")
        self.agreement_button.clicked.connect(self.show_agreement)
        self.kind = QComboBox()  # what is labelled: pairs, or the steps of responses (issue #17)
        self.kind.addItem("Pairs", "pairs")
        self.kind.addItem("Steps", "steps")
        self.kind.currentIndexChanged.connect(lambda _: self._show_kind())
        self.steps_pane = StepLabelPane(self.ctx)
        who = QHBoxLayout()  # two rows, so the panel fits a 1366-pixel laptop screen: who labels, then what
        for w in (QLabel("Annotator"), self.annotator, self.new_name, self.new_button):
            who.addWidget(w)
        who.addStretch(1)
        for w in (self.raw_box, self.keys_button, self.pairs_button, self.agreement_button):
            who.addWidget(w)
        what = QHBoxLayout()
        for w in (QLabel("Label"), self.kind, self.mode, self.order, self.overlap, self.start_button):
            what.addWidget(w)
        what.addStretch(1)
        self.pair_view = PairView()
        self.rows = LabelRows()
        self.rows.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.note = QLineEdit()
        self.note.setPlaceholderText("Note for the focused row — Enter keeps it, Esc cancels")
        self.note.hide()
        self.note.returnPressed.connect(self._note_done)
        self.key_hint = QLabel("")
        self.key_hint.setObjectName("hint")
        self.progress = QLabel("Pick an annotator and press Start labelling.")
        self.progress.setObjectName("hint")
        self.round_mode = RoundLabelMode(self.ctx, lambda: (self.mode, self.order, self.overlap), self)
        self.round_mode.left.connect(lambda: self.start_session() if self.session is not None else None)
        self.round_mode.counted.connect(self._update_progress)
        layout = QVBoxLayout(self)
        layout.addLayout(who)
        layout.addLayout(what)
        layout.addWidget(self.round_mode.banner)
        layout.addWidget(self.pair_view, 1)
        layout.addWidget(self.rows)
        self.suggestion = SuggestionBar(self.ctx.settings)  # a vector reward model's suggested label (issue #17)
        layout.addWidget(self.suggestion)
        layout.addWidget(self.note)
        layout.addWidget(self.key_hint)
        layout.addWidget(self.progress)
        layout.addWidget(self.steps_pane, 1)
        self._show_kind()
        self._show_key_hint()

    def step_mode(self) -> bool:
        return self.kind.currentData() == "steps"

    def _show_kind(self) -> None:
        """Pairs or Steps: the screen of one, the other hidden and its session stopped."""
        self.stop_session()
        for w in (self.pair_view, self.rows, self.suggestion, self.key_hint, self.progress):
            w.setVisible(not self.step_mode())
        self.steps_pane.setVisible(self.step_mode())

    def _show_key_hint(self) -> None:
        k = self.keymap.keys
        parts = [(k("prefer_left"), "A better"), (k("prefer_right"), "B better"), (k("tie"), "tie"),
                 (k("skip"), "skip"), (k("strength_1")[:1] + k("strength_3")[:1], "strength slight…strong"),
                 (k("note"), "note"), (k("undo"), "undo"), (k("help"), "all keys")]
        self.key_hint.setText("   ·   ".join(f"{' / '.join(keys)}: {text}" for keys, text in parts if keys))
        self.suggestion.confirm_keys = " / ".join(k("confirm_suggestion")) or "(no key)"

    def shortcut_help(self) -> list[tuple[str, str]]:
        return self.keymap.help_rows() + [(k, f"Steps: {t}") for k, t in self.steps_pane.keymap.help_rows()]

    # --- data -----------------------------------------------------------------------------------------------
    def reload(self) -> None:
        if self.ctx.project is None:
            self.stop_session()
            self.annotator.clear()
            self.progress.setText("Open a project to label pairs.")
            return
        run_task(self._reload(), self, "Could not load annotators")

    async def _reload(self) -> None:
        self.objectives, annotators = await self.ctx.db.call(load_people)
        if self.session is None:  # not the "Open a project" of an earlier state (issue #13)
            self.progress.setText("Pick an annotator and press Start labelling." if annotators else
                                  "Add an annotator (your name) and press Start labelling.")
        current = self.annotator.currentData()
        self.annotator.clear()
        for a in annotators:
            self.annotator.addItem(a.name, a.id)
        if current is not None and self.annotator.findData(current) >= 0:
            self.annotator.setCurrentIndex(self.annotator.findData(current))
        self.mode.set_objectives(self.objectives)

    def create_annotator(self) -> None:
        name = self.new_name.text().strip()
        if not name:
            show_error(self, "New annotator", "Type the new annotator's name first.")
            return
        run_task(self._create_annotator(name), self, "Could not add the annotator")

    async def _create_annotator(self, name: str) -> None:
        person = await self.ctx.db.call(add_annotator, name)
        self.new_name.clear()
        await self._reload()
        self.annotator.setCurrentIndex(self.annotator.findData(person.id))
        self.ctx.notify("annotators")

    # --- session --------------------------------------------------------------------------------------------
    def start_session(self) -> None:
        annotator_id = self.annotator.currentData()
        if annotator_id is None:
            show_error(self, "Labelling", "Pick an annotator (or add one) before starting.")
            return
        rnd = self.round_mode.queue
        if rnd is not None:  # a round's Label step: its objectives, its pairs in its order (round_label_mode.py)
            chosen = [o for o in self.objectives if o.id in rnd.objective_ids]
        else:
            chosen = self.mode.chosen()
        if not chosen:
            show_error(self, "Labelling", "Choose at least one objective to label (or add one in the Project panel)."
                       if self.objectives else "The project has no objectives yet: add one in the Project panel.")
            return
        self.stop_session()
        if self.step_mode():
            self.steps_pane.start(int(annotator_id), chosen, self.overlap.value(), self.order.currentData())
            return
        order = self.order.currentData()
        margins = self._margins() if order == "active" and rnd is None else None
        overlap, among = (1, rnd.pair_ids) if rnd is not None else (self.overlap.value(), None)
        self.session_objectives = chosen
        self.session = LabelSession(self.ctx.db, int(annotator_id), [o.id for o in chosen],
                                    overlap=overlap, order=order, margins=margins, among=among, parent=self)
        self.session.pair_ready.connect(self._on_pair)
        self.session.row_changed.connect(self._on_row)
        self.session.label_committed.connect(lambda _: self._update_progress())
        self.session.label_retracted.connect(lambda _: self._update_progress())
        self.session.label_committed.connect(lambda _: self.round_mode.refresh())
        self.session.label_retracted.connect(lambda _: self.round_mode.refresh())
        self.session.failed.connect(lambda msg: show_error(self, "Labelling", msg))
        self.rows.set_objectives(chosen)
        self.total_before = self.ctx.db.call_sync(annotator_total, int(annotator_id))
        self.left_at_start: int | None = None
        self.seen_pairs: set[int] = set()
        self.suggestion.load(self.ctx.runs_root)
        self.session.start()  # the first pair is fetched first; the count follows it on the DB thread
        run_task(self._count_left(int(annotator_id), [o.id for o in chosen], overlap, self.session, among),
                 self, "Could not count the pairs left")
        self.rows.setFocus()

    async def _count_left(self, annotator_id: int, objective_ids: list[int], overlap: int, session,
                          among: list[int] | None = None) -> None:
        left = await self.ctx.db.call(pairs_left, annotator_id, objective_ids, overlap, among)
        total = await self.ctx.db.call(project_pairs)
        if session is self.session:
            self.left_at_start, self.project_pairs = left, total
            self._update_progress()

    def pairs_left_now(self) -> int | None:
        """Pairs left in this session's queue: the count at its start minus the pairs shown since (the one on
        screen included, once its last row is answered it is no longer left)."""
        if self.left_at_start is None:
            return None
        s = self.session
        on_screen = s is not None and s.current is not None and s.current.pair_id in self.seen_pairs
        done = len(self.seen_pairs) - (1 if on_screen else 0)
        return max(0, self.left_at_start - done)

    def choose_objectives_dialog(self) -> QWidget:
        return self.mode.choose_dialog()

    def _margins(self) -> dict[int, float] | None:
        from workbench.ui.dialogs.agreement_dialog import latest_margins

        return latest_margins(self.ctx.runs_root)

    def stop_session(self) -> None:
        if self.session is not None:
            self.session.deleteLater()
            self.session = None
        self.steps_pane.stop()
        self.pair_view.show_screen(None)
        self.suggestion.show_for(None, None)

    def _on_pair(self, screen: Screen | None) -> None:
        self.pair_view.show_screen(screen)
        self.rows.clear_all()
        if screen is None:
            self.suggestion.show_for(None, None)
            self._update_progress()
            return
        self.seen_pairs.add(screen.pair_id)
        for row, given in screen.given.items():
            self.rows.set_given(row, _shown_of(given.choice, screen.swapped), given.annotator)
        for row, action in screen.answers.items():
            self.rows.set_answer(row, _shown_of(action.choice, screen.swapped), action.strength)
        if self._key_t0 is not None:
            self.advance_ms.append((time.perf_counter() - self._key_t0) * 1000.0)
            self._key_t0 = None
        self._update_progress()

    def _on_row(self, row: int) -> None:
        self.rows.set_focus_row(row)
        self.pending_note = ""
        s = self.session
        self.suggestion.show_for(s.current if s else None, self.session_objectives[row].name
                                 if s and row < len(self.session_objectives) else None)

    def _update_progress(self) -> None:
        s = self.session
        if s is None:
            return
        name = self.annotator.currentText()
        speed = s.labels_per_hour()
        pace = f"{speed:,.0f} labels/hour" if speed is not None else "speed shown after the first minute"
        n = s.labelled
        left = self.pairs_left_now()
        text = (f"{name}: {n} label{'s' if n != 1 else ''} this session · {self.total_before + n:,} in total · "
                + (f"{left:,} pair{'s' if left != 1 else ''} left · " if left is not None and s.current is not None
                   else "") + pace)
        if s.exhausted() and self.round_mode.active:
            text += self.round_mode.exhausted_text()
        elif s.exhausted() and self.project_pairs == 0:
            text += (" — This project has no pairs yet: import preference pairs (Project panel), generate candidates "
                     "in the Models panel, or switch Label to Steps to rate the steps of its responses.")
        elif s.exhausted():
            text += (" — No pair left for this annotator: every pair is labelled (or has enough annotators for the "
                     "overlap setting). Import or generate more pairs.")
        self.progress.setText(text)

    def label_round(self, number: int) -> None:
        """Label round `number`'s pairs only (the Rounds panel's Label step): widgets/round_label_mode.py. A round
        labels pairs, so a panel left in Steps mode switches back to Pairs first."""
        if self.step_mode():
            self.kind.setCurrentIndex(self.kind.findData("pairs"))
        self.round_mode.open_round(number, self)

    # --- keys -----------------------------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:  # noqa: D401 - Qt override
        """Claim our keys before window shortcuts (Ctrl+Z is also Edit ▸ Undo) while labelling."""
        if event.type() == QEvent.Type.ShortcutOverride and self.session is not None and not self.note.hasFocus():
            if self.keymap.action_for(event) is not None:
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        action = self.keymap.action_for(event)
        if self.note.hasFocus() and event.key() == Qt.Key.Key_Escape:
            self.note.hide()
            self.rows.setFocus()
            return
        if action is None or not self.perform(action):
            super().keyPressEvent(event)

    def perform(self, action: str) -> bool:
        """Do what a key of the key map does; False when it does not apply now."""
        if action == "help":
            show_key_help(self, self.keymap)
            return True
        s = self.session
        if s is None:
            return False
        if action in CHOICE_ACTIONS:
            return self._answer(CHOICE_ACTIONS[action])
        if action == "confirm_suggestion":
            return self._confirm_suggestion()
        if action.startswith("strength_"):
            self.rows.set_pending_strength(int(action[-1]))
        elif action == "note":
            self.note.setText(self.pending_note)
            self.note.show()
            self.note.setFocus()
        elif action == "undo":
            self.undo()
        elif action == "redo":
            self.redo()
        return True

    def _answer(self, shown: str) -> bool:
        s = self.session
        if s is None or s.current is None:
            return False
        row, before = s.row, s.current
        self._key_t0 = time.perf_counter()
        if s.awaiting_next():  # typed ahead: answered on the next pair as soon as it is shown
            return s.defer(shown, strength=self.rows.pending_strength, note=self.pending_note)
        action = s.answer(shown, strength=self.rows.pending_strength, note=self.pending_note)
        if action is None:
            self._key_t0 = None
            return False
        if s.current is before:  # same pair still on screen: a middle row, or the next pair is not fetched yet
            self.rows.set_answer(row, shown, action.strength)
            if s.row < len(s.objective_ids):
                self._key_t0 = None
        return True

    def _confirm_suggestion(self) -> bool:
        """Answer the row with the reward model's suggestion, noted as a confirmation (core.rm_suggestions)."""
        shown = self.suggestion.shown_choice()
        if shown is None or self.session is None or self.session.awaiting_next():  # not for a pair not yet shown
            return False
        before, self.pending_note = self.pending_note, confirmed_note(self.pending_note)
        done = self._answer(shown)
        self.pending_note = "" if done else before
        return done

    def _note_done(self) -> None:
        self.pending_note = self.note.text().strip()
        self.note.hide()
        self.rows.setFocus()
        if self.pending_note:
            self.progress.setText(f"Note kept for this row: {self.pending_note}")

    def undo(self) -> None:
        if self.step_mode():  # Edit ▸ Undo in step mode
            self.steps_pane.perform("undo")
            return
        if self.session is not None and self.session.undo() is not None:
            self.rows.clear_answer(self.session.row)
            self.rows.set_focus_row(self.session.row)

    def redo(self) -> None:
        if self.step_mode():
            self.steps_pane.perform("redo")
            return
        if self.session is not None:
            self.session.redo()

    # --- dialogs --------------------------------------------------------------------------------------------
    def edit_keys(self) -> KeyMapDialog:
        pane = self.steps_pane
        dlg = KeyMapDialog(pane.keymap if self.step_mode() else self.keymap, self)
        dlg.accepted.connect(lambda: (pane.set_keymap if self.step_mode() else self.set_keymap)(dlg.keymap()))
        dlg.open()
        return dlg

    def set_keymap(self, keymap: KeyMap) -> None:
        self.keymap = keymap
        keymap.save(self.ctx.settings)
        self._show_key_hint()

    def show_pairs(self, search: str = "", objective_id: int | None = None):
        from workbench.ui.dialogs.pair_browser import PairBrowser

        if self.ctx.project is None:
            return None
        dlg = PairBrowser(self.ctx, self, search=search, objective_id=objective_id or self.mode.only(),
                          annotator_id=self.annotator.currentData())
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dlg.open()
        return dlg

    def show_agreement(self):
        from workbench.ui.dialogs.agreement_dialog import AgreementDialog
        from workbench.ui.dialogs.step_agreement_dialog import StepAgreementDialog

        dlg = (StepAgreementDialog if self.step_mode() else AgreementDialog)(self.ctx, self)
        dlg.open()
        return dlg

    def shutdown(self) -> None:
        self.stop_session()


def _int_setting(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _shown_of(choice: str, swapped: bool) -> str:
    if choice in ("tie", "skip"):
        return choice
    return "left" if (choice == "a") != swapped else "right"
