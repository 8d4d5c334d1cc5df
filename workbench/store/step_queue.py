"""The step-labelling queue: which response an annotator step-labels next, for one objective (issue #17).

Like the pair queue (store/queue.py): a response is offered while this annotator has not finished it and fewer
than `overlap` people have step-labelled it (labels of import annotators do not count, store.annotators).
Finished = every step rated, or a first error marked (PRM800K phase 2 stops there; core.step_labels.is_complete).
Responses the annotator started but did not finish come first; then responses that are already split into steps
(they were imported or prepared for step labels), then the others, each group in the chosen order: "in_order"
(response id) or "random" (a fixed pseudo-random permutation of the ids that depends on the seed).

Why not one SQL statement: correlated counts per response over all responses took seconds at 20,000 responses.
Here the annotator's own labels are read once (an index walk of uq_step_label_active), split responses are
checked a chunk at a time with IN look-ups, and unsplit ones (nobody labelled them) are one index walk.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, not_, select
from sqlalchemy.orm import Session

from workbench.core.errors import ProjectError
from workbench.store.annotators import import_annotator_ids
from workbench.store.schema import ResponseRow, StepLabelRow, StepRow, StepSplitRow

ORDERS = ("random", "in_order")
CHUNK = 500
_MULT, _MOD = 2654435761, 2**32  # Knuth's multiplicative hash: a permutation of ids modulo 2^32


def order_key(response_id: int, order: str, seed: int) -> int:
    return response_id if order == "in_order" else (response_id * _MULT + seed) % _MOD


def _key(column: Any, order: str, seed: int) -> Any:
    """`order_key` as SQL."""
    return column if order == "in_order" else (column * _MULT + seed) % _MOD


@dataclass(frozen=True)
class _Mine:
    started: set[int]  # responses with a rating of this annotator, not finished
    finished: set[int]


def _mine(s: Session, annotator_id: int, objective_id: int) -> _Mine:
    query = (select(StepRow.response_id, func.count(StepLabelRow.rating), func.max(StepLabelRow.first_error))
             .join(StepRow, StepLabelRow.step_id == StepRow.id)
             .where(StepLabelRow.annotator_id == annotator_id, StepLabelRow.objective_id == objective_id,
                    StepLabelRow.superseded_at.is_(None))
             .group_by(StepRow.response_id))
    rows = s.execute(query).all()
    sizes = _step_counts(s, [r for r, _, _ in rows])
    started, finished = set(), set()
    for response_id, rated, marked in rows:
        if marked or rated >= sizes.get(response_id, 0) > 0:
            finished.add(response_id)
        elif rated:
            started.add(response_id)
    return _Mine(started, finished)


def _step_counts(s: Session, response_ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for start in range(0, len(response_ids), CHUNK):
        chunk = response_ids[start:start + CHUNK]
        out.update(s.execute(select(StepRow.response_id, func.count()).where(StepRow.response_id.in_(chunk))
                             .group_by(StepRow.response_id)).all())
    return out


def _humans(s: Session, objective_id: int, machines: Collection[int], response_ids: Iterable[int] | None
            ) -> dict[int, int]:
    """response id -> distinct human annotators with an active rating of one of its steps (for the objective)."""
    query = (select(StepRow.response_id, func.count(func.distinct(StepLabelRow.annotator_id)))
             .join(StepRow, StepLabelRow.step_id == StepRow.id)
             .where(StepLabelRow.objective_id == objective_id, StepLabelRow.superseded_at.is_(None),
                    StepLabelRow.rating.is_not(None), StepLabelRow.annotator_id.notin_(list(machines)))
             .group_by(StepRow.response_id))
    if response_ids is not None:
        query = query.where(StepRow.response_id.in_(list(response_ids)))
    return dict(s.execute(query).all())


def _check(order: str, overlap: int) -> None:
    if order not in ORDERS:
        raise ProjectError(f"unknown queue order {order!r}: use one of {', '.join(ORDERS)}")
    if overlap < 1:
        raise ProjectError("overlap must be at least 1 (how many annotators label each response)")


def next_response(s: Session, annotator_id: int, objective_id: int, *, overlap: int = 1, order: str = "in_order",
                  exclude: Collection[int] = (), seed: int = 0) -> int | None:
    """The id of the next response for this annotator (see the module docstring), or None when none is left."""
    _check(order, overlap)
    mine = _mine(s, annotator_id, objective_id)
    skip = set(exclude)
    started = sorted(mine.started - skip, key=lambda r: (order_key(r, order, seed), r))
    if started:
        return started[0]
    machines = import_annotator_ids(s)
    split_key = _key(StepSplitRow.response_id, order, seed)
    last = -1
    while True:  # split responses a chunk at a time, in key order (keyset pagination: the key is a permutation)
        chunk = s.execute(select(StepSplitRow.response_id, split_key).where(split_key > last)
                          .order_by(split_key).limit(CHUNK)).all()
        if not chunk:
            break
        last = chunk[-1][1]
        ids = [r for r, _ in chunk if r not in skip and r not in mine.finished]
        humans = _humans(s, objective_id, machines, ids)
        for response_id in ids:
            if humans.get(response_id, 0) < overlap:
                return response_id
    key = _key(ResponseRow.id, order, seed)
    query = select(ResponseRow.id).where(not_(exists().where(StepSplitRow.response_id == ResponseRow.id)))
    if skip:
        query = query.where(ResponseRow.id.notin_(list(skip)))
    found = s.scalar(query.order_by(key, ResponseRow.id).limit(1))
    return None if found is None else int(found)


def open_response_count(s: Session, annotator_id: int, objective_id: int, *, overlap: int = 1) -> int:
    """How many responses `next_response` could still offer (the Label panel's "N left"): all responses but those
    this annotator finished and those enough other people rated (unless this annotator started them)."""
    _check("in_order", overlap)
    mine = _mine(s, annotator_id, objective_id)
    humans = _humans(s, objective_id, import_annotator_ids(s), None)
    full = {r for r, n in humans.items() if n >= overlap} - mine.started - mine.finished
    total = int(s.scalar(select(func.count()).select_from(ResponseRow)) or 0)
    return total - len(mine.finished) - len(full)
