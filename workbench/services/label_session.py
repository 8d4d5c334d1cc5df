"""LabelSession: one annotator labelling pairs, one screen (= one reward vector) at a time.

Why a service and not panel code: the same logic drives the Label panel, the crash test's headless script and the
key→next-pair benchmark. It is Qt-aware (signals) but widget-free.

- Every label is committed the moment it is made: `add_label` runs on the DB thread (DbExecutor, FIFO) in its own
  transaction; `label_committed(Label)` fires once it is durable ("acknowledged").
- Prefetch: as soon as a pair is shown, the next one is queried, so the key that finishes a screen shows the next
  pair without waiting for the database (the store's `next_pair` must take < 20 ms even with 1M labels).
- Order of A/B on screen is randomised per (annotator, pair) with a stable seed and recorded as `shown_swapped`
  (position-bias statistics: Zheng et al. 2023, §3.3).
- Undo/redo (UndoStack, 30 actions) retract/re-add labels; because the DB thread runs calls in submission order,
  an undo submitted right after a label sees that label committed.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from workbench.core.entities import Label
from workbench.core.undo import UndoStack
from workbench.services.db_executor import DbExecutor
from workbench.services.db_session import DbSession

ORDERS = {"random": "Random", "in_order": "In order", "active": "Active (smallest margin)",
          "coverage": "Least-covered objective first"}
ORDER_KEY = "label/order"  # the Label panel's queue order (QSettings); "active" makes new runs score pairs for it
RECENT_EXCLUDE = 64  # pairs shown lately that a prefetch must not return again
MAX_DEFERRED = 8  # keys kept while the next pair is on its way (beyond that the person is not reading)


def shown_swapped(annotator_id: int, pair_id: int, seed: int = 0) -> bool:
    """Stable pseudo-random side assignment: the same annotator sees the same pair the same way every time."""
    digest = hashlib.sha256(f"{seed}:{annotator_id}:{pair_id}".encode()).digest()
    return bool(digest[0] & 1)


@dataclass(eq=False)
class Screen:
    """One pair on screen: its PairView (pair, prompt, response_a, response_b) and which side shows which."""

    view: Any
    swapped: bool
    answers: dict[int, LabelAction] = field(default_factory=dict)  # row -> the label made on that row
    given: dict[int, Any] = field(default_factory=dict)  # row -> store.round_label.GivenLabel (a round: not asked)

    @property
    def pair_id(self) -> int:
        return int(self.view.pair.id)

    def left_right(self) -> tuple[Any, Any]:
        v = self.view
        return (v.response_b, v.response_a) if self.swapped else (v.response_a, v.response_b)


@dataclass(eq=False)
class LabelAction:
    """An undoable label: what was pressed where, and the Future of the stored Label (replaced on redo)."""

    screen: Screen
    row: int
    objective_id: int
    choice: str  # in pair terms: a | b | tie | skip
    strength: int
    note: str
    future: concurrent.futures.Future


# --- DB-thread functions -----------------------------------------------------------------------------------------
def fetch_next(s, annotator_id: int, objective_ids: list[int], overlap: int, order: str, exclude: tuple[int, ...],
               seed: int, margins: dict[int, float] | None, among: tuple[int, ...] | None = None) -> Any:
    """The next pair for this annotator as (PairView, {objective id: GivenLabel}), or None when the queue is empty
    (`among`: only those pairs, in that order: a round's Label step, where objectives the pair already has an
    answer for are given, not asked: store.round_label.given_labels)."""
    from workbench.store.pairs import pair_view
    from workbench.store.queue import next_pair
    from workbench.store.round_label import given_labels

    pair = next_pair(s, annotator_id, objective_ids=objective_ids, overlap=overlap, order=order, exclude=exclude,
                     seed=seed, margins=margins, among=among)
    if pair is None:
        return None
    return pair_view(s, pair.id), (given_labels(s, pair.id, objective_ids) if among is not None else {})


def store_label(s, pair_id: int, objective_id: int, annotator_id: int, choice: str, strength: int, note: str,
                swapped: bool) -> Label:
    from workbench.store.labels import add_label

    return add_label(s, pair_id, objective_id, annotator_id, choice, strength=strength, note=note,
                     shown_swapped=swapped)


def retract_after(s, future: concurrent.futures.Future) -> Label:
    """Retract the label `future` stored (already done: the DB thread is FIFO). Returns the retracted label."""
    from workbench.store.labels import retract_label

    label = future.result()
    retract_label(s, label.id)
    return label


class LabelSession(DbSession):
    """See the module docstring. Drive it with `start()`, `answer()`, `undo()`, `redo()`."""

    pair_ready = Signal(object)  # Screen, or None when no pair is left for this annotator
    row_changed = Signal(int)  # the row (objective index) that the next key answers
    label_committed = Signal(object)  # Label, once durable
    label_retracted = Signal(object)  # the Label an undo took back
    failed = Signal(str)  # a readable message

    def __init__(self, db: DbExecutor, annotator_id: int, objective_ids: list[int], *, overlap: int = 1,
                 order: str = "random", seed: int = 0, margins: dict[int, float] | None = None,
                 among: list[int] | None = None, parent: QObject | None = None) -> None:
        if not objective_ids:
            raise ValueError("a labelling session needs at least one objective")
        super().__init__(db, parent)
        self.annotator_id = annotator_id
        self.objective_ids = list(objective_ids)
        self.overlap, self.order, self.seed, self.margins = overlap, order, seed, margins
        self.among = tuple(among) if among is not None else None  # only these pairs, in this order (a round)
        self.history: UndoStack[LabelAction] = UndoStack(30)
        self.current: Screen | None = None
        self.row = 0
        self.pending: list[Screen] = []  # screens to show again before new ones (after undo went back)
        self.recent: list[int] = []
        self.deferred: list[tuple[str, int, str]] = []  # (shown, strength, note) typed before the pair arrived
        self.committed = 0  # label writes made durable (skips included)
        # self.labelled (DbSession): ... of which real labels (not skips): what the speed and counts show
        self._prefetch: concurrent.futures.Future | None = None
        self._waiting = False

    # --- the queue ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Fetch the first pair (pair_ready fires when it is there)."""
        self._waiting = True
        self._prefetch = self._query_next()

    def _query_next(self) -> concurrent.futures.Future:
        exclude = tuple(dict.fromkeys([*self.recent[-RECENT_EXCLUDE:], *(s.pair_id for s in self.pending)]))
        return self._submit(fetch_next, self.annotator_id, self.objective_ids, self.overlap, self.order, exclude,
                            self.seed, self.margins, self.among, then=self._on_prefetched)

    def _on_prefetched(self, future: concurrent.futures.Future) -> None:
        if future is self._prefetch and self._waiting:
            self._advance()

    def _advance(self) -> None:
        """Show the next screen: one the user went back from, else the prefetched pair (or wait for it)."""
        if self.pending:
            self._show(self.pending.pop())
            return
        future = self._prefetch
        if future is None or not future.done():
            self._waiting = True
            return
        self._waiting = False
        try:
            fetched = future.result()
        except Exception as exc:  # noqa: BLE001 - reported, the session stays usable
            self.failed.emit(f"Could not fetch the next pair: {exc}")
            return
        if fetched is None:
            self.current = None
            self.pair_ready.emit(None)
            return
        view, given = fetched
        rows = {self.objective_ids.index(oid): g for oid, g in given.items() if oid in self.objective_ids}
        self._show(Screen(view, shown_swapped(self.annotator_id, int(view.pair.id), self.seed), given=rows))

    def _show(self, screen: Screen) -> None:
        self.current = screen
        self.recent = [p for p in self.recent if p != screen.pair_id][-RECENT_EXCLUDE:] + [screen.pair_id]
        self.row = self._first_open_row(screen)
        if not self.pending and (self._prefetch is None or self._prefetch.done()):
            self._prefetch = self._query_next()  # prefetch while the person reads this pair
        while self.deferred and self.row < len(self.objective_ids):  # keys typed while it was on its way
            shown, strength, note = self.deferred.pop(0)
            self._record(screen, shown, strength, note)
            self.row = self._first_open_row(screen, self.row + 1)
        self.pair_ready.emit(screen)
        self.row_changed.emit(self.row)
        if self.row >= len(self.objective_ids):  # typed-ahead keys answered this whole pair too
            self._advance()

    def _first_open_row(self, screen: Screen, start: int = 0) -> int:
        for row in range(start, len(self.objective_ids)):
            if row not in screen.answers and row not in screen.given:
                return row
        return len(self.objective_ids)

    # --- labelling ------------------------------------------------------------------------------------------
    def answer(self, shown: str, *, strength: int = 2, note: str = "") -> LabelAction | None:
        """Answer the current row: shown is left | right | tie | skip (what the person saw, not a/b)."""
        screen = self.current
        if screen is None or self.row >= len(self.objective_ids):
            return None
        action = self._record(screen, shown, strength, note)
        self._move_on(screen)
        return action

    def _record(self, screen: Screen, shown: str, strength: int, note: str) -> LabelAction:
        choice = {"left": "b" if screen.swapped else "a", "right": "a" if screen.swapped else "b"}.get(shown, shown)
        action = LabelAction(screen, self.row, self.objective_ids[self.row], choice, strength, note,
                             concurrent.futures.Future())
        self._commit(action)
        self.history.push(action)
        return action

    def exhausted(self) -> bool:
        """No pair on screen and none on its way: the queue is empty for this annotator."""
        return self.current is None and not self._waiting

    def awaiting_next(self) -> bool:
        """The pair on screen is fully answered and the next one is still on its way from the DB thread."""
        return self.current is not None and self._waiting and self.row >= len(self.objective_ids)

    def defer(self, shown: str, *, strength: int = 2, note: str = "") -> bool:
        """Keep a key typed while the next pair is on its way; it answers that pair's first open row when the pair
        arrives (a fast annotator's keys are never dropped). False when MAX_DEFERRED keys are already waiting."""
        if len(self.deferred) >= MAX_DEFERRED:
            return False
        self.deferred.append((shown, strength, note))
        return True

    def _commit(self, action: LabelAction) -> None:
        action.screen.answers[action.row] = action
        action.future = self._submit(store_label, action.screen.pair_id, action.objective_id, self.annotator_id,
                                     action.choice, action.strength, action.note, action.screen.swapped,
                                     then=self._on_committed)

    def _on_committed(self, future: concurrent.futures.Future) -> None:
        try:
            label = future.result()
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(f"The label was not saved: {exc}")
            return
        self.committed += 1
        if label.choice != "skip":  # a skip is no label: not in the count, nor in the speed (issue #13)
            self.labelled += 1
        self.label_committed.emit(label)

    def _move_on(self, screen: Screen) -> None:
        self.row = self._first_open_row(screen, self.row + 1)
        if self.row < len(self.objective_ids):
            self.row_changed.emit(self.row)
        else:
            self._advance()

    # --- undo / redo ----------------------------------------------------------------------------------------
    def undo(self) -> LabelAction | None:
        """Take back the last label: it is retracted in the store and its pair and row come back on screen."""
        self.deferred.clear()  # the person is correcting: keys typed ahead no longer mean what they meant
        action = self.history.undo()
        if action is None:
            return None
        action.screen.answers.pop(action.row, None)
        self._submit(retract_after, action.future, then=self._on_retracted)
        self._goto(action.screen, action.row)
        return action

    def _on_retracted(self, future: concurrent.futures.Future) -> None:
        try:
            label = future.result()
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(f"Could not undo the label: {exc}")
            return
        self.committed = max(0, self.committed - 1)
        if label.choice != "skip":
            self.labelled = max(0, self.labelled - 1)
        self.label_retracted.emit(label)

    def redo(self) -> LabelAction | None:
        """Re-apply the last undone label (a new label row; history is never deleted)."""
        action = self.history.redo()
        if action is None:
            return None
        self._goto(action.screen, action.row)
        self._commit(action)
        self._move_on(action.screen)
        return action

    def _goto(self, screen: Screen, row: int) -> None:
        self._waiting = False  # the person went back: a next pair arriving now waits until this row is answered
        if self.current is not screen:
            self.pending = [s for s in self.pending if s is not screen]
            if self.current is not None:
                self.pending.append(self.current)
            self.current = screen
            self.pair_ready.emit(screen)
        self.row = row
        self.row_changed.emit(row)
