"""What leaves the store for training: majority-vote preferences and a run's `data.jsonl` (DESIGN.md §3).

Several annotators may label one pair for one objective. The exported preference is the majority of the active
decisive labels ('a' or 'b'); ties, skips and even splits are left out, since a pair with no clear winner carries
no preference signal for a Bradley-Terry style loss (Rafailov et al. 2023, eq. 7).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from workbench.core.entities import Messages, PreferenceRecord
from workbench.core.errors import ProjectError
from workbench.store.schema import LabelRow, ObjectiveRow, PairRow, PromptRow, ResponseRow

CHUNK = 500


@dataclass(frozen=True)
class RunDataSummary:
    """What `export_run_data` wrote: row counts overall, per split and per objective."""

    path: str
    rows: int
    train_rows: int
    eval_rows: int
    per_objective: dict[str, int] = field(default_factory=dict)


def split_of(pair_id: int, seed: int, eval_fraction: float) -> str:
    """'eval' or 'train', a stable function of (pair_id, seed): runs with the same seed hold out the same pairs."""
    digest = hashlib.sha1(f"{seed}:{pair_id}".encode()).digest()
    return "eval" if int.from_bytes(digest[:8], "big") / 2.0**64 < eval_fraction else "train"


def _objective_id(s: Session, name: str) -> int:
    oid = s.scalar(select(ObjectiveRow.id).where(ObjectiveRow.name == name))
    if oid is None:
        raise ProjectError(f"the project has no objective named {name!r}: check the spelling or add it")
    return oid


def _votes(s: Session, objective_id: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(pair_id, votes a, votes b, strength sum a, strength sum b) of pairs with decisive labels, by pair id."""
    is_a, is_b = LabelRow.choice == "a", LabelRow.choice == "b"
    query = (select(LabelRow.pair_id, func.sum(case((is_a, 1), else_=0)), func.sum(case((is_b, 1), else_=0)),
                    func.sum(case((is_a, LabelRow.strength), else_=0)),
                    func.sum(case((is_b, LabelRow.strength), else_=0)))
             .where(LabelRow.objective_id == objective_id, LabelRow.superseded_at.is_(None),
                    LabelRow.choice.in_(("a", "b")))
             .group_by(LabelRow.pair_id).order_by(LabelRow.pair_id))
    for row in s.execute(query):
        yield (row[0], row[1], row[2], row[3], row[4])


def _content(text: str, messages: Messages | None) -> str | Messages:
    return messages if messages is not None else text


def _texts(s: Session, pair_ids: Sequence[int]) -> dict[int, tuple[Any, Any, Any]]:
    """pair id -> (prompt, response a, response b) as strings or messages."""
    a, b = ResponseRow.__table__.alias("a"), ResponseRow.__table__.alias("b")
    rows = s.execute(select(PairRow.id, PromptRow.text, PromptRow.messages, a.c.text, a.c.messages, b.c.text,
                            b.c.messages)
                     .join(PromptRow, PromptRow.id == PairRow.prompt_id)
                     .join(a, a.c.id == PairRow.response_a_id).join(b, b.c.id == PairRow.response_b_id)
                     .where(PairRow.id.in_(pair_ids)))
    return {r[0]: (_content(r[1], r[2]), _content(r[3], r[4]), _content(r[5], r[6])) for r in rows}


def iter_preferences(s: Session, objective: str) -> Iterator[PreferenceRecord]:
    """One record per pair whose decisive labels for `objective` have a strict majority; chosen = the winner.

    `extra` holds pair_id, votes_a, votes_b and strength (the winners' mean strength, rounded, 1..3).
    """
    votes = [v for v in _votes(s, _objective_id(s, objective)) if v[1] != v[2]]
    for start in range(0, len(votes), CHUNK):
        chunk = votes[start:start + CHUNK]
        texts = _texts(s, [v[0] for v in chunk])
        for pair_id, va, vb, sa, sb in chunk:
            prompt, ra, rb = texts[pair_id]
            a_wins = va > vb
            strength = round((sa / va) if a_wins else (sb / vb))
            yield PreferenceRecord(prompt=prompt, chosen=ra if a_wins else rb, rejected=rb if a_wins else ra,
                                   objective=objective, extra={"pair_id": pair_id, "votes_a": int(va),
                                                               "votes_b": int(vb), "strength": int(strength)})


def export_run_data(s: Session, objectives: Sequence[str], path: str | Path, *, eval_fraction: float = 0.1,
                    seed: int = 0) -> RunDataSummary:
    """Write a run's data.jsonl (store_api.md "Run folder format"); empty `objectives` = every objective."""
    if not 0.0 <= eval_fraction < 1.0:
        raise ProjectError("the evaluation fraction must be at least 0 and below 1 (e.g. 0.1)")
    names = list(objectives) or list(s.scalars(select(ObjectiveRow.name).order_by(ObjectiveRow.id)))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    counts = {"train": 0, "eval": 0}
    per_objective: dict[str, int] = {}
    with open(tmp, "w", encoding="utf-8") as fh:
        for name in names:
            per_objective[name] = 0
            for rec in iter_preferences(s, name):
                pair_id = rec.extra["pair_id"]
                split = split_of(pair_id, seed, eval_fraction)
                fh.write(json.dumps({"pair_id": pair_id, "objective": name, "prompt": rec.prompt,
                                     "chosen": rec.chosen, "rejected": rec.rejected,
                                     "strength": rec.extra["strength"], "split": split}, ensure_ascii=False) + "\n")
                counts[split] += 1
                per_objective[name] += 1
    os.replace(tmp, path)  # a worker never sees a half-written file
    return RunDataSummary(path=str(path), rows=counts["train"] + counts["eval"], train_rows=counts["train"],
                          eval_rows=counts["eval"], per_objective=per_objective)
