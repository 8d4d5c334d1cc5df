"""The labelling queue: which pair an annotator sees next.

A pair is offered when, for some requested objective, this annotator has not labelled it and fewer than `overlap`
people have labelled it for that objective (overlap 2 gives every pair a second opinion, for agreement statistics).
Overlap counts human labels per objective (issue #13): imported labels (store.annotators.import_annotator_ids) and
skips do not fill a pair, so a freshly imported project is labellable at once.
Pairs the annotator started but did not finish (some objectives labelled) come first, so a label vector is
completed before a new pair starts.

Pairs are walked in the order's index (`_walk`) until one passes the per-objective checks, each an index look-up on
the active-label index (objective_id, pair_id). Timings: tests/benchmarks/bench_store.py.

Orders: "random" (a fixed random key per pair, walked from a seed-dependent start, so the same seed gives the
same sequence), "in_order" (import order), "coverage" (least-labelled pairs first, then random), "active" (pairs
whose |margin| under the current policy is smallest first: uncertainty sampling, Settles 2009 §3.1; the caller
passes the margins, e.g. from a run's log-probs).

`among` (a round's Label step, store/round_label.py) restricts the queue to those pairs, walked in the given order.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from workbench.core.entities import Pair
from workbench.core.errors import ProjectError
from workbench.store import convert
from workbench.store.annotators import import_annotator_ids
from workbench.store.pairs import SHUFFLE_BITS
from workbench.store.schema import LabelRow, ObjectiveRow, PairRow

ORDERS = ("random", "in_order", "active", "coverage")
RECENT = 64  # how many of an annotator's latest labels are searched for an unfinished label vector


def _open_for(annotator_id: int, objective_ids: Sequence[int], exclude: Collection[int], overlap: int,
              machine_ids: Collection[int]) -> list[Any]:
    """WHERE terms: for some objective the annotator has not labelled the pair and fewer than `overlap` humans have
    (skips and imported labels do not count), and the pair is not excluded."""
    per_objective = []
    for oid in objective_ids:
        active = (LabelRow.pair_id == PairRow.id, LabelRow.objective_id == oid, LabelRow.superseded_at.is_(None))
        mine = exists().where(*active, LabelRow.annotator_id == annotator_id)
        humans = (select(func.count()).select_from(LabelRow)
                  .where(*active, LabelRow.choice != "skip", LabelRow.annotator_id.notin_(list(machine_ids)))
                  .scalar_subquery())
        per_objective.append(and_(~mine, humans < overlap))
    terms: list[Any] = [or_(*per_objective)]
    if exclude:
        terms.append(PairRow.id.notin_(list(exclude)))
    return terms


def _unfinished(s: Session, annotator_id: int, objective_ids: Sequence[int], exclude: Collection[int],
                among: Sequence[int] | None = None) -> int | None:
    """The most recent pair the annotator labelled for some but not all of the objectives.

    Only the annotator's last RECENT active labels are looked at (one walk of ix_label_annotator_recent): an
    unfinished label vector is the one being worked on, and scanning a million imported labels would not be fast.
    """
    if len(objective_ids) < 2:
        return None
    recent = (select(LabelRow.pair_id)
              .where(LabelRow.annotator_id == annotator_id, LabelRow.superseded_at.is_(None))
              .order_by(LabelRow.id.desc()).limit(RECENT).scalar_subquery())
    query = (select(LabelRow.pair_id)
             .where(LabelRow.annotator_id == annotator_id, LabelRow.superseded_at.is_(None),
                    LabelRow.objective_id.in_(objective_ids), LabelRow.pair_id.in_(recent))
             .group_by(LabelRow.pair_id).having(func.count() < len(objective_ids))
             .order_by(func.max(LabelRow.id).desc()))
    if exclude:
        query = query.where(LabelRow.pair_id.notin_(list(exclude)))
    if among is not None:
        query = query.where(LabelRow.pair_id.in_(list(among)))
    return s.scalar(query.limit(1))


def _first(s: Session, where: list[Any], order_col: Any, start: int | None) -> tuple[int, int] | None:
    """(id, order key) of the first open pair at or after `start` in `order_col` order, wrapping around."""
    query = select(PairRow.id, order_col).where(*where).order_by(order_col).limit(1)
    if start is None:
        return s.execute(query).first()  # type: ignore[return-value]
    return (s.execute(query.where(order_col >= start)).first()
            or s.execute(query.where(order_col < start)).first())  # type: ignore[return-value]


def _walk(s: Session, open_terms: list[Any], order: str, seed: int) -> int | None:
    """The first open pair in the order. In import order: the primary key. Otherwise the levels `labelled_by = k`
    upwards: each level is one range of the index (labelled_by, shuffle_key), so the walk is an index scan that stops
    at the first open pair; pairs with fewer labellers come first, and within a level the shuffle key from a
    seed-dependent start (random) or from the beginning (coverage). Levels are few (one per number of labellers)."""
    if order == "in_order":  # import order: the primary key is the index to walk
        hit = _first(s, open_terms, PairRow.id, None)
        return None if hit is None else hit[0]
    top = s.scalar(select(func.max(PairRow.labelled_by))) or 0
    column = PairRow.shuffle_key
    start = random.Random(seed).getrandbits(SHUFFLE_BITS) if order == "random" else None
    for level in range(top + 1):
        hit = _first(s, [PairRow.labelled_by == level, *open_terms], column, start)
        if hit is not None:
            return hit[0]
    return None


def _most_uncertain(s: Session, open_terms: list[Any], margins: Mapping[int, float]) -> int | None:
    ids = np.fromiter(margins.keys(), dtype=np.int64, count=len(margins))
    ranked = ids[np.argsort(np.abs(np.fromiter(margins.values(), dtype=np.float64, count=len(margins))),
                            kind="stable")].tolist()
    return _first_of(s, open_terms, ranked)


def _first_of(s: Session, open_terms: list[Any], ranked: Sequence[int]) -> int | None:
    """The first open pair of `ranked`, checked in chunks of 500."""
    for start in range(0, len(ranked), 500):
        chunk = ranked[start:start + 500]
        ok = set(s.scalars(select(PairRow.id).where(PairRow.id.in_(chunk), *open_terms)))
        for pid in chunk:
            if pid in ok:
                return pid
    return None


def next_pair(s: Session, annotator_id: int, *, objective_ids: Sequence[int] | None = None, overlap: int = 1,
              order: str = "random", exclude: Collection[int] = (), seed: int = 0,
              margins: Mapping[int, float] | None = None, among: Sequence[int] | None = None) -> Pair | None:
    """The next pair for this annotator (see the module docstring), or None when nothing is left to label.
    With `among`, only those pairs, in that order (order and margins then do not apply)."""
    if order not in ORDERS:
        raise ProjectError(f"unknown queue order {order!r}: use one of {', '.join(ORDERS)}")
    if overlap < 1:
        raise ProjectError("overlap must be at least 1 (how many annotators label each pair)")
    objectives = list(objective_ids) if objective_ids else list(s.scalars(select(ObjectiveRow.id)))
    if not objectives:
        return None
    pair_id = _unfinished(s, annotator_id, objectives, exclude, among)
    open_terms = _open_for(annotator_id, objectives, exclude, overlap, import_annotator_ids(s))
    if among is not None:
        pair_id = pair_id if pair_id is not None else _first_of(s, open_terms, among)
        return None if pair_id is None else convert.pair(s.get_one(PairRow, pair_id))
    if pair_id is None and order == "active" and margins:
        pair_id = _most_uncertain(s, open_terms, margins)
    if pair_id is None:
        pair_id = _walk(s, open_terms, "random" if order == "active" else order, seed)
    return None if pair_id is None else convert.pair(s.get_one(PairRow, pair_id))


def open_count(s: Session, annotator_id: int, *, objective_ids: Sequence[int] | None = None, overlap: int = 1,
               among: Sequence[int] | None = None) -> int:
    """How many pairs `next_pair` could still offer this annotator (the Label panel's "N left"); one scan of the
    pair table with the same per-objective checks, so call it once per session, not per screen."""
    objectives = list(objective_ids) if objective_ids else list(s.scalars(select(ObjectiveRow.id)))
    if not objectives:
        return 0
    terms = _open_for(annotator_id, objectives, (), overlap, import_annotator_ids(s))
    if among is not None:
        terms.append(PairRow.id.in_(list(among)))
    return int(s.scalar(select(func.count()).select_from(PairRow).where(*terms)) or 0)
