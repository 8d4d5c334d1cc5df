"""StepLabelSession: one annotator rating the steps of responses for one objective (issue #17, Label panel step
mode). Widget-free like LabelSession (services/label_session.py), whose rules it follows:

- Every rating is committed the moment it is made, on the DB thread (FIFO), in its own transaction;
  `label_committed` fires once it is durable. The response's split is stored with its first label (until then the
  chosen split is only a preview, and changing the split re-splits the response on screen).
- Once a step of a response has a label its split is fixed (store.step_labels): the screen says so and a new split
  applies to the next responses only.
- Undo/redo (UndoStack, 30 actions): undo retracts what one key wrote (a "first error here" key writes several
  labels, one undo takes them all back) and the response comes back on screen; history is never deleted.
- A response is done when every step is rated or a first error is marked; the next one then appears. Previous /
  next response walk back and forth through the responses of this session.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from workbench.core.step_labels import IMPORTED, StepLabel, first_error_ratings, is_complete, ratings_by_step
from workbench.core.steps import BAD, Step, StepSplit, StepSplitError, split_steps
from workbench.core.undo import UndoStack
from workbench.services.db_executor import DbExecutor
from workbench.services.db_session import DbSession

RECENT_EXCLUDE = 500  # responses seen in this session that the queue must not offer again


@dataclass(eq=False)
class StepScreen:
    """One response on screen: its prompt and text, its steps (stored or previewed), and this annotator's ratings."""

    prompt: Any  # core.entities.Prompt
    response: Any  # core.entities.Response
    reference_answer: str
    steps: list[Step]
    mode: str  # the split the steps come from ("imported" for steps a file gave)
    pattern: str
    locked: bool  # steps have labels (or came from a file): the split cannot change
    ratings: list[int | None] = field(default_factory=list)
    first_error: int | None = None  # the step marked "first error here", if any
    problem: str = ""  # why there are no steps (bad regex, empty response)

    @property
    def response_id(self) -> int:
        return int(self.response.id)

    def split(self) -> StepSplit | None:
        return None if self.mode == IMPORTED else StepSplit(self.mode, self.pattern)  # type: ignore[arg-type]

    def complete(self) -> bool:
        return bool(self.steps) and is_complete(self.ratings, self.first_error is not None)


@dataclass(eq=False)
class StepAction:
    """One key's labels: where, what, the ratings before it (restored on screen by undo) and the stored labels."""

    screen: StepScreen
    index: int
    kind: str  # "rate" | "first_error"
    rating: int | None
    before: tuple[list[int | None], int | None]
    future: concurrent.futures.Future


# --- DB-thread functions -----------------------------------------------------------------------------------------
def _preview(text: str, split: StepSplit) -> tuple[list[Step], str]:
    try:
        steps = split_steps(text, split)
    except StepSplitError as exc:
        return [], str(exc)
    return steps, "" if steps else "the response is empty: press Next response"


def load_screen(s, response_id: int, annotator_id: int, objective_id: int, split: StepSplit) -> StepScreen:
    """The screen of one response: stored steps when they are fixed (labelled or imported), else `split`'s."""
    from workbench.store import convert
    from workbench.store import step_labels as sl
    from workbench.store.schema import PromptRow, ResponseRow

    response = s.get_one(ResponseRow, response_id)
    prompt = convert.prompt(s.get_one(PromptRow, response.prompt_id))
    stored = sl.get_steps(s, response_id)
    locked = stored is not None and (stored.mode == IMPORTED or sl.step_label_count(s, response_id) > 0)
    if locked:
        steps, problem, mode, pattern = list(stored.steps), "", stored.mode, stored.pattern
    elif stored is not None and stored.mode == split.mode and stored.pattern == split.pattern:
        steps, problem, mode, pattern = list(stored.steps), "", stored.mode, stored.pattern
    else:
        (steps, problem), mode, pattern = _preview(response.text, split), split.mode, split.pattern
    mine = sl.active_step_labels(s, objective_id=objective_id, annotator_id=annotator_id, response_id=response_id,
                                 rated_only=False) if stored is not None else []
    marked = [lab.step_index for lab in mine if lab.first_error and lab.rating == BAD]
    return StepScreen(prompt, convert.response(response), sl.reference_answer(s, prompt.id), steps, mode, pattern,
                      locked, ratings_by_step(mine, len(steps)), marked[0] if marked else None, problem)


def fetch_next_screen(s, annotator_id: int, objective_id: int, overlap: int, order: str, exclude: tuple[int, ...],
                      seed: int, split: StepSplit) -> StepScreen | None:
    from workbench.store.step_queue import next_response

    rid = next_response(s, annotator_id, objective_id, overlap=overlap, order=order, exclude=exclude, seed=seed)
    return None if rid is None else load_screen(s, rid, annotator_id, objective_id, split)


def store_rating(s, response_id: int, split: StepSplit | None, kind: str, index: int, objective_id: int,
                 annotator_id: int, rating: int | None) -> list[StepLabel]:
    """Store the split shown (unless fixed) and the key's labels, in one transaction."""
    from workbench.store import step_labels as sl

    if split is not None:
        sl.ensure_split(s, response_id, split)
    if kind == "first_error":
        return sl.label_first_error(s, response_id, index, objective_id, annotator_id)
    return [sl.label_step(s, response_id, index, objective_id, annotator_id, rating)]


def retract_after(s, future: concurrent.futures.Future) -> list[StepLabel]:
    """Retract the labels `future` stored (already done: the DB thread is FIFO)."""
    from workbench.store.step_labels import retract_step_labels

    labels = future.result()
    retract_step_labels(s, [lab.id for lab in labels])
    return labels


class StepLabelSession(DbSession):
    """See the module docstring. Drive it with start(), rate(), first_error(), move(), next()/previous(), undo()."""

    screen_ready = Signal(object)  # StepScreen, or None when no response is left
    focus_changed = Signal(int)  # the step the next key rates
    label_committed = Signal(object)  # list[StepLabel], once durable
    label_retracted = Signal(object)  # list[StepLabel] an undo took back
    failed = Signal(str)

    def __init__(self, db: DbExecutor, annotator_id: int, objective_id: int, split: StepSplit, *, overlap: int = 1,
                 order: str = "in_order", seed: int = 0, parent: QObject | None = None) -> None:
        super().__init__(db, parent)
        self.annotator_id, self.objective_id = annotator_id, objective_id
        self.split = split
        self.overlap, self.order, self.seed = overlap, order, seed
        self.history: UndoStack[StepAction] = UndoStack(30)
        self.visited: list[StepScreen] = []  # screens of this session, in the order shown
        self.position = -1  # index in `visited` of the screen on screen
        self.current: StepScreen | None = None
        self.focus = 0
        # self.labelled (DbSession): keys whose labels are durable (an undo takes one back)
        self._waiting = False

    # --- responses ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._fetch()

    def waiting(self) -> bool:
        return self._waiting

    def _fetch(self) -> None:
        self._waiting = True
        exclude = tuple(sc.response_id for sc in self.visited[-RECENT_EXCLUDE:])
        self._submit(fetch_next_screen, self.annotator_id, self.objective_id, self.overlap, self.order, exclude,
                     self.seed, self.split, then=self._on_fetched)

    def _on_fetched(self, future: concurrent.futures.Future) -> None:
        self._waiting = False
        try:
            screen = future.result()
        except Exception as exc:  # noqa: BLE001 - reported, the session stays usable
            self.failed.emit(f"Could not fetch the next response: {exc}")
            return
        if screen is None:
            self.current = None
            self.position = len(self.visited)
            self.screen_ready.emit(None)
            return
        self.visited.append(screen)
        self._show(len(self.visited) - 1)

    def _show(self, position: int, focus: int | None = None) -> None:
        self.position = position
        self.current = screen = self.visited[position]
        self.focus = self._first_open(screen) if focus is None else focus
        self.screen_ready.emit(screen)
        self.focus_changed.emit(self.focus)

    def _first_open(self, screen: StepScreen, start: int = 0) -> int:
        """The first unrated step at or after `start` (wrapping around); `start` itself when all are rated."""
        n = len(screen.steps)
        for i in [*range(start, n), *range(0, min(start, n))]:
            if screen.ratings[i] is None:
                return i
        return min(start, max(0, n - 1))

    def next(self) -> bool:
        """The next response: forward through the ones already seen, else a new one from the queue."""
        if self._waiting:
            return False
        if self.position + 1 < len(self.visited):
            self._show(self.position + 1)
        elif self.current is not None:
            self._fetch()
        else:
            return False
        return True

    def previous(self) -> bool:
        if self._waiting or self.position <= 0:
            return False
        self._show(self.position - 1)
        return True

    def set_split(self, split: StepSplit) -> str:
        """Use `split` from now on; the response on screen is re-split unless its split is fixed. Returns "" or a
        readable reason why the response on screen keeps its steps."""
        self.split = split
        screen = self.current
        if screen is None:
            return ""
        if screen.locked:
            return ("This response keeps its steps: " + ("they came from a file" if screen.mode == IMPORTED else
                    "some are labelled") + ". The new split applies to the next responses.")
        screen.steps, screen.problem = _preview(screen.response.text, split)
        screen.mode, screen.pattern = split.mode, split.pattern
        screen.ratings, screen.first_error = [None] * len(screen.steps), None
        self._show(self.position, 0)
        return screen.problem

    # --- labelling ------------------------------------------------------------------------------------------
    def move(self, delta: int) -> None:
        screen = self.current
        if screen is not None and screen.steps:
            self.focus = max(0, min(len(screen.steps) - 1, self.focus + delta))
            self.focus_changed.emit(self.focus)

    def rate(self, rating: int | None) -> StepAction | None:
        """Rate the focused step (+1/0/-1, None clears it); focus moves to the next unrated step."""
        return self._act("rate", rating)

    def first_error(self, no_error: bool = False) -> StepAction | None:
        """"First error here" on the focused step (or, `no_error`, every step good)."""
        return self._act("first_error", None, -1 if no_error else None)

    def _act(self, kind: str, rating: int | None, index: int | None = None) -> StepAction | None:
        screen = self.current
        if screen is None or self._waiting or not screen.steps:
            return None
        index = self.focus if index is None else index
        action = StepAction(screen, index, kind, rating, (list(screen.ratings), screen.first_error),
                            concurrent.futures.Future())
        self._commit(action)
        self.history.push(action)
        self._after(screen, index)
        return action

    def _apply(self, action: StepAction) -> None:
        """The action's effect on the screen's ratings (what the store will hold once it is committed)."""
        screen = action.screen
        if action.kind == "first_error":
            screen.ratings = first_error_ratings(screen.ratings, action.index)
            screen.first_error = action.index if action.index >= 0 else None
        else:
            screen.ratings[action.index] = action.rating
            if screen.first_error == action.index:
                screen.first_error = None

    def _commit(self, action: StepAction) -> None:
        self._apply(action)
        screen = action.screen
        split = None if screen.locked else screen.split()
        screen.locked = True  # the store fixes the split with the first label
        action.future = self._submit(store_rating, screen.response_id, split, action.kind, action.index,
                                     self.objective_id, self.annotator_id, action.rating, then=self._on_committed)

    def _on_committed(self, future: concurrent.futures.Future) -> None:
        try:
            labels = future.result()
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(f"The step label was not saved: {exc}")
            return
        self.labelled += 1
        self.label_committed.emit(labels)

    def _after(self, screen: StepScreen, index: int) -> None:
        """Refresh the screen; focus the next unrated step, or show the next response once this one is done."""
        if screen.complete():
            self.screen_ready.emit(screen)
            self.next()
            return
        self.focus = self._first_open(screen, min(index + 1, len(screen.steps) - 1))
        self.screen_ready.emit(screen)
        self.focus_changed.emit(self.focus)

    # --- undo / redo ----------------------------------------------------------------------------------------
    def undo(self) -> StepAction | None:
        """Take back the last key's labels; its response comes back on screen with the ratings it had."""
        if self._waiting:
            return None
        action = self.history.undo()
        if action is None:
            return None
        action.screen.ratings, action.screen.first_error = list(action.before[0]), action.before[1]
        self._submit(retract_after, action.future, then=self._on_retracted)
        self._goto(action.screen, max(0, action.index))
        return action

    def _on_retracted(self, future: concurrent.futures.Future) -> None:
        try:
            labels = future.result()
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(f"Could not undo the step label: {exc}")
            return
        self.labelled = max(0, self.labelled - 1)
        self.label_retracted.emit(labels)

    def redo(self) -> StepAction | None:
        if self._waiting:
            return None
        action = self.history.redo()
        if action is None:
            return None
        self._goto(action.screen, max(0, action.index))
        action.before = (list(action.screen.ratings), action.screen.first_error)
        self._commit(action)
        self._after(action.screen, action.index)
        return action

    def _goto(self, screen: StepScreen, focus: int) -> None:
        position = next((i for i, sc in enumerate(self.visited) if sc is screen), None)
        if position is None:  # cannot happen: every labelled screen was visited
            return
        self._show(position, focus)
