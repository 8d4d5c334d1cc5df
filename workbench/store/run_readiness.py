"""Training and held-out pair counts per objective, as `export_run_data` would write them (pairs whose decisive
labels have a majority; split by `split_of`), without writing anything: what the pre-launch warning needs
(workbench.core.run_readiness)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from workbench.store.exports import split_of
from workbench.store.schema import LabelRow, ObjectiveRow, StepLabelRow, StepRow


def split_counts(s: Session, objectives: Sequence[str], *, eval_fraction: float, seed: int, kind: str = "policy"
                 ) -> dict[str, tuple[int, int]]:
    """kind "prm": step-labelled responses (a PRM run's steps.jsonl rows, store/step_run_data.py), not pairs."""
    names = list(objectives) or list(s.scalars(select(ObjectiveRow.name).order_by(ObjectiveRow.id)))
    ids = dict(s.execute(select(ObjectiveRow.name, ObjectiveRow.id).where(ObjectiveRow.name.in_(names))).all())
    out: dict[str, tuple[int, int]] = {}
    for name in names:
        if name not in ids:
            out[name] = (0, 0)
            continue
        if kind == "prm":
            responses = s.scalars(
                select(StepRow.response_id).distinct().join(StepLabelRow, StepLabelRow.step_id == StepRow.id)
                .where(StepLabelRow.objective_id == ids[name], StepLabelRow.superseded_at.is_(None),
                       StepLabelRow.rating.is_not(None)))
            splits = [split_of(rid, seed, eval_fraction) for rid in responses]
            out[name] = (splits.count("train"), splits.count("eval"))
            continue
        a = func.sum(case((LabelRow.choice == "a", 1), else_=0))
        b = func.sum(case((LabelRow.choice == "b", 1), else_=0))
        rows = s.execute(select(LabelRow.pair_id, a, b)
                         .where(LabelRow.objective_id == ids[name], LabelRow.superseded_at.is_(None),
                                LabelRow.choice.in_(("a", "b")))
                         .group_by(LabelRow.pair_id)).all()
        splits = [split_of(pid, seed, eval_fraction) for pid, va, vb in rows if va != vb]
        out[name] = (splits.count("train"), splits.count("eval"))
    return out
