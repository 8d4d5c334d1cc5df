"""Step labels (issue #17): a response split into steps, and each step rated per objective and annotator.

- A response has at most one split (`step_split` + its `step` rows). `set_split` re-splits it only while none of
  its steps was ever labelled: labels point at steps, and history is never deleted, so a labelled split stays.
- `label_step` records a PRM800K rating (+1/0/-1, or None to clear it); the annotator's previous active label of
  that step and objective becomes history (`superseded_at`), as store.labels does for pairs.
- `label_first_error` is the "first error here" key: the steps before it good (or neutral, if so rated), it bad
  (marked `first_error`), the steps after it cleared (core.step_labels.first_error_ratings); only the steps whose
  rating changes get a row.
- `retract_step_labels` undoes: each label becomes history and the one it replaced is active again.
Import and export of step-labelled solutions: store.step_records.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from workbench.core.errors import ProjectError
from workbench.core.step_labels import IMPORTED, ResponseSteps, StepLabel, check_rating, first_error_ratings
from workbench.core.steps import BAD, Step, StepSplit, StepSplitError, split_steps
from workbench.store.clock import aware, utcnow
from workbench.store.schema import PromptAnswerRow, PromptRow, ResponseRow, StepLabelRow, StepRow, StepSplitRow


def _label(row: StepLabelRow, step: StepRow) -> StepLabel:
    return StepLabel(id=row.id, step_id=row.step_id, response_id=step.response_id, step_index=step.idx,
                     objective_id=row.objective_id, annotator_id=row.annotator_id, rating=row.rating,
                     first_error=bool(row.first_error), created_at=aware(row.created_at),
                     superseded=row.superseded_at is not None)


# --- splits --------------------------------------------------------------------------------------------------
def get_steps(s: Session, response_id: int) -> ResponseSteps | None:
    """The response's stored split and steps, or None when it has not been split yet."""
    split = s.scalar(select(StepSplitRow).where(StepSplitRow.response_id == response_id))
    if split is None:
        return None
    rows = s.scalars(select(StepRow).where(StepRow.response_id == response_id).order_by(StepRow.idx))
    return ResponseSteps(response_id, split.mode, split.pattern,
                         tuple(Step(r.idx, r.text, r.start_char, r.end_char) for r in rows))


def list_steps(s: Session, response_id: int) -> list[Step]:
    found = get_steps(s, response_id)
    return [] if found is None else list(found.steps)


def step_label_count(s: Session, response_id: int) -> int:
    """Labels ever given on the response's steps (history included): a split with any cannot change."""
    return int(s.scalar(select(func.count()).select_from(StepLabelRow).join(StepRow, StepLabelRow.step_id == StepRow.id)
                        .where(StepRow.response_id == response_id)) or 0)


def preview_split(text: str, split: StepSplit) -> list[Step]:
    """The steps `split` makes of `text` (what the Label panel shows before anything is stored)."""
    try:
        return split_steps(text, split)
    except StepSplitError as exc:
        raise ProjectError(str(exc)) from None


def store_steps(s: Session, response_id: int, mode: str, pattern: str, steps: Sequence[Step], *, source: str = "",
                meta: dict | None = None) -> ResponseSteps:
    """Replace the response's split by these steps (refused when any of its steps was ever labelled)."""
    if not steps:
        raise ProjectError(f"response {response_id} has no steps with that split (is it empty?): choose another split")
    existing = s.scalar(select(StepSplitRow).where(StepSplitRow.response_id == response_id))
    if existing is not None:
        labelled = step_label_count(s, response_id)
        if labelled:
            how = ResponseSteps(response_id, existing.mode, existing.pattern, ()).describe()
            raise ProjectError(
                f"response {response_id} is already split ({how}) and its steps have {labelled} "
                f"label{'s' if labelled != 1 else ''}: its split stays so that no label loses its step. Keep this "
                "split for it.")
        s.execute(delete(StepRow).where(StepRow.response_id == response_id))
        s.delete(existing)
        s.flush()
    s.add(StepSplitRow(response_id=response_id, mode=mode, pattern=pattern, source=source, meta=dict(meta or {}),
                       created_at=utcnow()))
    s.add_all([StepRow(response_id=response_id, idx=i, text=st.text, start_char=st.start, end_char=st.end)
               for i, st in enumerate(steps)])
    s.flush()
    return ResponseSteps(response_id, mode, pattern, tuple(Step(i, st.text, st.start, st.end)
                                                           for i, st in enumerate(steps)))


def set_split(s: Session, response_id: int, split: StepSplit) -> ResponseSteps:
    """Split the response by `split` and store its steps. The same split again changes nothing; another split is
    refused once a step is labelled (ProjectError saying so)."""
    response = s.get(ResponseRow, response_id)
    if response is None:
        raise ProjectError(f"response {response_id} does not exist (it may have been deleted): reload the project")
    current = get_steps(s, response_id)
    if current is not None and current.mode == split.mode and current.pattern == (
            split.pattern if split.mode == "regex" else ""):
        return current
    steps = preview_split(response.text, split)
    return store_steps(s, response_id, split.mode, split.pattern if split.mode == "regex" else "", steps)


def ensure_split(s: Session, response_id: int, split: StepSplit) -> ResponseSteps:
    """The response's steps: the stored ones when it has labelled steps (whatever `split` says), else `split`'s."""
    current = get_steps(s, response_id)
    if current is not None and step_label_count(s, response_id):
        return current
    return set_split(s, response_id, split)


# --- labels --------------------------------------------------------------------------------------------------
def _step_row(s: Session, response_id: int, index: int) -> StepRow:
    row = s.scalar(select(StepRow).where(StepRow.response_id == response_id, StepRow.idx == index))
    if row is None:
        n = len(list_steps(s, response_id))
        raise ProjectError(f"response {response_id} has no step {index + 1} ({n} steps): "
                           + ("split it first" if n == 0 else "reload it"))
    return row


def active_row(s: Session, step_id: int, objective_id: int, annotator_id: int) -> StepLabelRow | None:
    return s.scalar(select(StepLabelRow).where(
        StepLabelRow.step_id == step_id, StepLabelRow.objective_id == objective_id,
        StepLabelRow.annotator_id == annotator_id, StepLabelRow.superseded_at.is_(None)))


def write_label(s: Session, step: StepRow, objective_id: int, annotator_id: int, rating: int | None,
                first_error: bool) -> StepLabel:
    """Record a rating of a step row; the annotator's previous active label of it becomes history."""
    previous = active_row(s, step.id, objective_id, annotator_id)
    now = utcnow()
    if previous is not None:
        previous.superseded_at = now
        s.flush()  # the partial unique index allows one active row: retire the old one first
    row = StepLabelRow(step_id=step.id, objective_id=objective_id, annotator_id=annotator_id, rating=rating,
                       first_error=first_error, created_at=now,
                       replaces_id=previous.id if previous is not None else None)
    s.add(row)
    s.flush()
    return _label(row, step)


def label_step(s: Session, response_id: int, index: int, objective_id: int, annotator_id: int, rating: int | None,
               ) -> StepLabel:
    """Rate step `index` (0-based) of the response: +1 good, 0 neutral, -1 bad, None clears the rating."""
    try:
        check_rating(rating)
    except ValueError as exc:
        raise ProjectError(str(exc)) from None
    return write_label(s, _step_row(s, response_id, index), objective_id, annotator_id, rating, False)


def label_first_error(s: Session, response_id: int, index: int, objective_id: int, annotator_id: int
                      ) -> list[StepLabel]:
    """"First error here" at step `index` (-1: no error, every step good): see the module docstring. Returns the
    labels written (the undo of this one key retracts them all)."""
    steps = list(s.scalars(select(StepRow).where(StepRow.response_id == response_id).order_by(StepRow.idx)))
    if not steps:
        raise ProjectError(f"response {response_id} has no steps yet: split it first")
    active = [active_row(s, step.id, objective_id, annotator_id) for step in steps]
    try:
        wanted = first_error_ratings([row.rating if row is not None else None for row in active], index)
    except ValueError as exc:
        raise ProjectError(str(exc)) from None
    written = []
    for step, row, rating in zip(steps, active, wanted):
        mark = rating == BAD
        current = (row.rating, bool(row.first_error)) if row is not None else (None, False)
        if current != (rating, mark):
            written.append(write_label(s, step, objective_id, annotator_id, rating, mark))
    return written


def retract_step_label(s: Session, label_id: int) -> StepLabel | None:
    """Undo a step label: it becomes history and the label it replaced (if any) is active again and returned."""
    row = s.get(StepLabelRow, label_id)
    if row is None:
        raise ProjectError(f"step label {label_id} does not exist: nothing to undo")
    if row.superseded_at is not None:
        raise ProjectError("that step label was already replaced or undone: undo the newer one first")
    row.superseded_at = utcnow()
    s.flush()
    restored = s.get(StepLabelRow, row.replaces_id) if row.replaces_id is not None else None
    if restored is None:
        return None
    restored.superseded_at = None
    s.flush()
    return _label(restored, s.get_one(StepRow, restored.step_id))


def retract_step_labels(s: Session, label_ids: Sequence[int]) -> None:
    """Undo several labels made by one key (newest first, so each restores what it replaced)."""
    for label_id in sorted(label_ids, reverse=True):
        retract_step_label(s, label_id)


def _labels(s: Session, *terms) -> list[StepLabel]:
    query = (select(StepLabelRow, StepRow).join(StepRow, StepLabelRow.step_id == StepRow.id).where(*terms)
             .order_by(StepLabelRow.id))
    return [_label(label, step) for label, step in s.execute(query)]


def active_step_labels(s: Session, *, objective_id: int | None = None, annotator_id: int | None = None,
                       response_id: int | None = None, rated_only: bool = True) -> list[StepLabel]:
    """Active step labels (`rated_only`: leave out cleared ones), oldest first."""
    terms = [StepLabelRow.superseded_at.is_(None)]
    if rated_only:
        terms.append(StepLabelRow.rating.is_not(None))
    if objective_id is not None:
        terms.append(StepLabelRow.objective_id == objective_id)
    if annotator_id is not None:
        terms.append(StepLabelRow.annotator_id == annotator_id)
    if response_id is not None:
        terms.append(StepRow.response_id == response_id)
    return _labels(s, *terms)


def step_label_history(s: Session, response_id: int) -> list[StepLabel]:
    """Every label ever given on the response's steps, oldest first (superseded ones included)."""
    return _labels(s, StepRow.response_id == response_id)


def step_counts(s: Session, response_ids: Sequence[int] | None = None) -> dict[int, int]:
    """response id -> number of stored steps (responses that are split)."""
    query = select(StepRow.response_id, func.count()).group_by(StepRow.response_id)
    if response_ids is not None:
        query = query.where(StepRow.response_id.in_(list(response_ids)))
    return {rid: int(n) for rid, n in s.execute(query)}


# --- reference answers ---------------------------------------------------------------------------------------
def active_rating():
    """The SQL condition of an active step rating (good / neutral / bad; not superseded, not cleared): what the
    counts (store.stats, rated_responses) count."""
    return StepLabelRow.superseded_at.is_(None) & StepLabelRow.rating.is_not(None)


def rated_responses(s: Session) -> int:
    """Responses with at least one active step rating: what a PRM run can train on (any objective)."""
    return int(s.scalar(select(func.count(func.distinct(StepRow.response_id)))
                        .join(StepLabelRow, StepLabelRow.step_id == StepRow.id).where(active_rating())) or 0)


def set_reference_answer(s: Session, prompt_id: int, answer: str, *, source: str = "") -> None:
    """Remember the prompt's known final answer (answer checking, automatic labels); "" forgets it."""
    if s.get(PromptRow, prompt_id) is None:
        raise ProjectError(f"prompt {prompt_id} does not exist: reload the project")
    row = s.get(PromptAnswerRow, prompt_id)
    if not answer.strip():
        if row is not None:
            s.delete(row)
    elif row is None:
        s.add(PromptAnswerRow(prompt_id=prompt_id, answer=answer.strip(), source=source))
    else:
        row.answer, row.source = answer.strip(), source
    s.flush()


def reference_answer(s: Session, prompt_id: int) -> str:
    """The prompt's known final answer, "" when none is known."""
    row = s.get(PromptAnswerRow, prompt_id)
    return "" if row is None else row.answer


# --- objectives ----------------------------------------------------------------------------------------------
def objective_step_label_count(s: Session, objective_id: int) -> int:
    """Active step labels of the objective (what deleting it would take with it)."""
    return int(s.scalar(select(func.count()).select_from(StepLabelRow).where(
        StepLabelRow.objective_id == objective_id, StepLabelRow.superseded_at.is_(None))) or 0)


def move_step_labels(s: Session, from_objective: int, to_objective: int) -> int:
    """Give the objective's step labels (history included) to another one, as store.objectives.delete_objective
    does for pair labels: where an annotator already has an active label of that step there, it stays active and
    the moved one becomes history. Returns how many rows moved."""
    taken = set(s.execute(select(StepLabelRow.annotator_id, StepLabelRow.step_id).where(
        StepLabelRow.objective_id == to_objective, StepLabelRow.superseded_at.is_(None))).all())
    rows = list(s.scalars(select(StepLabelRow).where(StepLabelRow.objective_id == from_objective)))
    now = utcnow()
    for row in rows:
        if row.superseded_at is None and (row.annotator_id, row.step_id) in taken:
            row.superseded_at = now
    s.flush()
    for row in rows:
        row.objective_id = to_objective
    s.flush()
    return len(rows)
