"""The step-labelling queue: which response an annotator step-labels next, for one objective (issue #17).

Like the pair queue (store/queue.py): a response is offered while this annotator has not finished it and fewer
than `overlap` people have step-labelled it (labels of import annotators do not count, store.annotators).
Finished = every step rated, or a first error marked (PRM800K phase 2 stops there; core.step_labels.is_complete).
Responses the annotator started but did not finish come first; then responses that are already split into steps
(they were imported or prepared for step labels), then the others, each group in the chosen order: "in_order"
(response id) or "random" (a fixed pseudo-random permutation of the ids that depends on the seed).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from workbench.core.errors import ProjectError
from workbench.store.annotators import import_annotator_ids
from workbench.store.schema import ResponseRow, StepLabelRow, StepRow, StepSplitRow

ORDERS = ("random", "in_order")
_MULT, _MOD = 2654435761, 2**32  # Knuth's multiplicative hash: a permutation of ids modulo 2^32


def _labels_of(objective_id: int, *terms: Any, what: Any = None) -> Any:
    """SELECT `what` (count) over the active labels of the current response's steps for the objective."""
    return (select(func.count() if what is None else what).select_from(StepLabelRow)
            .join(StepRow, StepLabelRow.step_id == StepRow.id)
            .where(StepRow.response_id == ResponseRow.id, StepLabelRow.objective_id == objective_id,
                   StepLabelRow.superseded_at.is_(None), *terms))


def _terms(annotator_id: int, objective_id: int, overlap: int, machines: Collection[int]) -> dict[str, Any]:
    n_steps = (select(func.count()).select_from(StepRow).where(StepRow.response_id == ResponseRow.id)
               .scalar_subquery())
    rated = StepLabelRow.rating.is_not(None)
    mine = _labels_of(objective_id, StepLabelRow.annotator_id == annotator_id, rated).scalar_subquery()
    marked = exists(_labels_of(objective_id, StepLabelRow.annotator_id == annotator_id,
                               StepLabelRow.first_error.is_(True), what=StepLabelRow.id))
    humans = (select(func.count(func.distinct(StepLabelRow.annotator_id))).select_from(StepLabelRow)
              .join(StepRow, StepLabelRow.step_id == StepRow.id)
              .where(StepRow.response_id == ResponseRow.id, StepLabelRow.objective_id == objective_id,
                     StepLabelRow.superseded_at.is_(None), rated,
                     StepLabelRow.annotator_id.notin_(list(machines))).scalar_subquery())
    finished = or_(marked, and_(n_steps > 0, mine >= n_steps))
    return {"started": mine > 0, "open": and_(not_(finished), or_(mine > 0, humans < overlap)),
            "split": exists().where(StepSplitRow.response_id == ResponseRow.id)}


def _check(order: str, overlap: int) -> None:
    if order not in ORDERS:
        raise ProjectError(f"unknown queue order {order!r}: use one of {', '.join(ORDERS)}")
    if overlap < 1:
        raise ProjectError("overlap must be at least 1 (how many annotators label each response)")


def next_response(s: Session, annotator_id: int, objective_id: int, *, overlap: int = 1, order: str = "in_order",
                  exclude: Collection[int] = (), seed: int = 0) -> int | None:
    """The id of the next response for this annotator (see the module docstring), or None when none is left."""
    _check(order, overlap)
    t = _terms(annotator_id, objective_id, overlap, import_annotator_ids(s))
    base = [t["open"]]
    if exclude:
        base.append(ResponseRow.id.notin_(list(exclude)))
    key = ResponseRow.id if order == "in_order" else (ResponseRow.id * _MULT + seed) % _MOD
    for group in ([t["started"]], [t["split"]], [not_(t["split"])]):
        found = s.scalar(select(ResponseRow.id).where(*base, *group).order_by(key, ResponseRow.id).limit(1))
        if found is not None:
            return int(found)
    return None


def open_response_count(s: Session, annotator_id: int, objective_id: int, *, overlap: int = 1) -> int:
    """How many responses `next_response` could still offer (the Label panel's "N left")."""
    _check("in_order", overlap)
    t = _terms(annotator_id, objective_id, overlap, import_annotator_ids(s))
    return int(s.scalar(select(func.count()).select_from(ResponseRow).where(t["open"])) or 0)
