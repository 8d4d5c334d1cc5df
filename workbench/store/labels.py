"""Labels: one annotator's choice between the two responses of a pair, for one objective.

Every label is a row that is never deleted: relabelling supersedes the active row (`superseded_at`) and points
back to it (`replaces_id`), and undo (`retract_label`) re-activates what was replaced. So the history of every
decision survives, and agreement can be computed on what annotators first said as well as on what they settled on.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.entities import Label
from workbench.core.errors import ProjectError
from workbench.store import convert
from workbench.store.clock import utcnow
from workbench.store.pairs import refresh_labelled_by
from workbench.store.schema import LabelRow, PairRow

CHOICES = ("a", "b", "tie", "skip")


def _active(s: Session, pair_id: int, objective_id: int, annotator_id: int) -> LabelRow | None:
    return s.scalar(select(LabelRow).where(LabelRow.pair_id == pair_id, LabelRow.objective_id == objective_id,
                                           LabelRow.annotator_id == annotator_id, LabelRow.superseded_at.is_(None)))


def add_label(s: Session, pair_id: int, objective_id: int, annotator_id: int, choice: str, strength: int = 2,
              note: str = "", shown_swapped: bool = False) -> Label:
    """Record a decision; the annotator's previous active label for this pair and objective becomes history."""
    if choice not in CHOICES:
        raise ProjectError(f"a label is one of a, b, tie, skip, not {choice!r}")
    if strength not in (1, 2, 3):
        raise ProjectError(f"strength is 1 (slight), 2 (clear) or 3 (strong), not {strength!r}")
    if s.get(PairRow, pair_id) is None:
        raise ProjectError(f"pair {pair_id} does not exist (it may have been deleted): reload the project")
    previous = _active(s, pair_id, objective_id, annotator_id)
    now = utcnow()
    if previous is not None:
        previous.superseded_at = now
        s.flush()  # the partial unique index allows one active row: retire the old one first
    row = LabelRow(pair_id=pair_id, objective_id=objective_id, annotator_id=annotator_id, choice=choice,
                   strength=strength, note=note, created_at=now, shown_swapped=shown_swapped,
                   replaces_id=previous.id if previous is not None else None)
    s.add(row)
    s.flush()
    if previous is None:
        refresh_labelled_by(s, [pair_id])
    return convert.label(row)


def retract_label(s: Session, label_id: int) -> Label | None:
    """Undo a label: it becomes history and the label it replaced (if any) is active again and returned."""
    row = s.get(LabelRow, label_id)
    if row is None:
        raise ProjectError(f"label {label_id} does not exist: nothing to undo")
    if row.superseded_at is not None:
        raise ProjectError("that label was already replaced or undone: undo the newer one first")
    row.superseded_at = utcnow()
    s.flush()
    restored = s.get(LabelRow, row.replaces_id) if row.replaces_id is not None else None
    if restored is not None:
        restored.superseded_at = None
        s.flush()
    else:
        refresh_labelled_by(s, [row.pair_id])
    return convert.label(restored) if restored is not None else None


def active_labels(s: Session, *, objective_id: int | None = None, annotator_id: int | None = None) -> list[Label]:
    query = select(LabelRow).where(LabelRow.superseded_at.is_(None))
    if objective_id is not None:
        query = query.where(LabelRow.objective_id == objective_id)
    if annotator_id is not None:
        query = query.where(LabelRow.annotator_id == annotator_id)
    return [convert.label(r) for r in s.scalars(query.order_by(LabelRow.id))]


def label_history(s: Session, pair_id: int) -> list[Label]:
    """Every label ever given on the pair, oldest first (superseded ones included)."""
    return [convert.label(r) for r in s.scalars(select(LabelRow).where(LabelRow.pair_id == pair_id)
                                                 .order_by(LabelRow.id))]
