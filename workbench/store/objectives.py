"""Objectives: the named components of the reward vector every label belongs to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.entities import Objective
from workbench.core.errors import ProjectError
from workbench.store import convert
from workbench.store.schema import ObjectiveRow
from workbench.store.upsert import get_or_insert, insert_if_missing

DIRECTIONS = ("maximize", "minimize")


def _check(name: str | None, direction: str | None) -> None:
    if name is not None and not name.strip():
        raise ProjectError("an objective needs a name: type one, e.g. 'helpfulness'")
    if direction is not None and direction not in DIRECTIONS:
        raise ProjectError(f"direction must be 'maximize' or 'minimize', not {direction!r}")


def list_objectives(s: Session) -> list[Objective]:
    return [convert.objective(r) for r in s.scalars(select(ObjectiveRow).order_by(ObjectiveRow.id))]


def add_objective(s: Session, name: str, description: str = "", direction: str = "maximize") -> Objective:
    _check(name, direction)
    name = name.strip()
    if not insert_if_missing(s, ObjectiveRow, name, description=description, direction=direction):
        raise ProjectError(f"an objective named {name!r} already exists: choose another name")
    return convert.objective(s.scalars(select(ObjectiveRow).where(ObjectiveRow.name == name)).one())


def update_objective(s: Session, id: int, *, name: str | None = None, description: str | None = None,
                     direction: str | None = None) -> Objective:
    _check(name, direction)
    row = s.get(ObjectiveRow, id)
    if row is None:
        raise ProjectError(f"objective {id} does not exist (it may have been deleted): reload the project")
    if name is not None and name.strip() != row.name:
        if s.scalar(select(ObjectiveRow.id).where(ObjectiveRow.name == name.strip())) is not None:
            raise ProjectError(f"an objective named {name.strip()!r} already exists: choose another name")
        row.name = name.strip()
    if description is not None:
        row.description = description
    if direction is not None:
        row.direction = direction
    s.flush()
    return convert.objective(row)


def get_or_create_objective(s: Session, name: str) -> Objective:
    _check(name, None)
    return convert.objective(get_or_insert(s, ObjectiveRow, name.strip(), description="", direction="maximize"))


def objective_label_count(s: Session, id: int) -> int:
    """Active labels (skips included) and step labels of the objective: what a delete would take with it."""
    from sqlalchemy import func

    from workbench.store.schema import LabelRow
    from workbench.store.step_labels import objective_step_label_count

    return int(s.scalar(select(func.count()).select_from(LabelRow)
                        .where(LabelRow.objective_id == id, LabelRow.superseded_at.is_(None))) or 0) \
        + objective_step_label_count(s, id)


def delete_objective(s: Session, id: int, *, move_labels_to: int | None = None) -> int:
    """Delete an objective. Its labels (history included) and unpaired feedback go with it, or, with
    `move_labels_to`, become that objective's; where an annotator already has an active label there for the same
    pair, that one stays active and the moved one is kept as history (nothing is lost). Returns how many rows moved
    or were deleted."""
    from sqlalchemy import update

    from workbench.store.clock import utcnow
    from workbench.store.pairs import refresh_labelled_by
    from workbench.store.schema import LabelRow, UnpairedFeedbackRow

    row = s.get(ObjectiveRow, id)
    if row is None:
        raise ProjectError(f"objective {id} does not exist (it may have been deleted): reload the project")
    labels = list(s.scalars(select(LabelRow).where(LabelRow.objective_id == id)))
    pairs = {lab.pair_id for lab in labels}
    if move_labels_to is not None:
        if move_labels_to == id or s.get(ObjectiveRow, move_labels_to) is None:
            raise ProjectError("choose another existing objective to move the labels to")
        taken = set(s.execute(select(LabelRow.annotator_id, LabelRow.pair_id).where(
            LabelRow.objective_id == move_labels_to, LabelRow.superseded_at.is_(None))).all())
        now = utcnow()
        for lab in labels:
            if lab.superseded_at is None and (lab.annotator_id, lab.pair_id) in taken:
                lab.superseded_at = now  # the target's own label wins; this one stays as history
        s.flush()
        s.execute(update(LabelRow).where(LabelRow.objective_id == id).values(objective_id=move_labels_to))
        feedback_taken = set(s.execute(select(UnpairedFeedbackRow.annotator_id, UnpairedFeedbackRow.response_id)
                                       .where(UnpairedFeedbackRow.objective_id == move_labels_to)).all())
        for fb in s.scalars(select(UnpairedFeedbackRow).where(UnpairedFeedbackRow.objective_id == id)):
            if (fb.annotator_id, fb.response_id) not in feedback_taken:
                fb.objective_id = move_labels_to
        s.flush()
        from workbench.store.step_labels import move_step_labels

        move_step_labels(s, id, move_labels_to)  # step labels (issue #17) move the same way
    s.delete(row)
    s.flush()
    s.expire_all()
    refresh_labelled_by(s, pairs)
    return len(labels)
