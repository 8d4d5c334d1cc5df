"""What leaves the store for training: majority-vote preferences and a run's `data.jsonl` (DESIGN.md §3).

Several annotators may label one pair for one objective. The exported preference is the majority of the active
decisive labels ('a' or 'b'); ties, skips and even splits are left out, since a pair with no clear winner carries
no preference signal for a Bradley-Terry style loss (Rafailov et al. 2023, eq. 7).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
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


def _texts(s: Session, pair_ids: Sequence[int]) -> dict[int, tuple[Any, Any, Any, dict[str, Any]]]:
    """pair id -> (prompt, response a, response b, pair.extra); contents as strings or messages."""
    a, b = ResponseRow.__table__.alias("a"), ResponseRow.__table__.alias("b")
    rows = s.execute(select(PairRow.id, PromptRow.text, PromptRow.messages, a.c.text, a.c.messages, b.c.text,
                            b.c.messages, PairRow.extra)
                     .join(PromptRow, PromptRow.id == PairRow.prompt_id)
                     .join(a, a.c.id == PairRow.response_a_id).join(b, b.c.id == PairRow.response_b_id)
                     .where(PairRow.id.in_(pair_ids)))
    return {r[0]: (_content(r[1], r[2]), _content(r[3], r[4]), _content(r[5], r[6]), dict(r[7] or {}))
            for r in rows}


def _swap_sides(key: str) -> str:
    """The name of the same column for the other response: score_chosen <-> score_rejected,
    chosen_rating <-> rejected_rating; other names stay."""
    for this, other in (("chosen", "rejected"), ("rejected", "chosen")):
        if key.endswith("_" + this):
            return key[: -len(this)] + other
        if key.startswith(this + "_"):
            return other + key[len(this):]
    return key


def oriented_extra(extra: dict[str, Any], a_wins: bool) -> dict[str, Any]:
    """A pair's extra columns as seen from the exported record. Pairs are stored a = the imported `chosen`, so
    columns about one side (score_chosen, score_rejected) describe a and b; when the majority now prefers b, they
    swap names so score_chosen still belongs to the exported chosen response."""
    return dict(extra) if a_wins else {_swap_sides(k): v for k, v in extra.items()}


def iter_preferences(s: Session, objective: str, pair_ids: Collection[int] | None = None
                     ) -> Iterator[PreferenceRecord]:
    """One record per pair whose decisive labels for `objective` have a strict majority; chosen = the winner.

    `extra` holds the pair's own extra columns from its import (e.g. TRL's score_chosen, see `oriented_extra`),
    then pair_id, votes_a, votes_b and strength (the winners' mean strength, rounded, 1..3), which take precedence
    over imported columns of the same name.
    """
    votes = [v for v in _votes(s, _objective_id(s, objective)) if v[1] != v[2]
             and (pair_ids is None or v[0] in pair_ids)]
    for start in range(0, len(votes), CHUNK):
        chunk = votes[start:start + CHUNK]
        texts = _texts(s, [v[0] for v in chunk])
        for pair_id, va, vb, sa, sb in chunk:
            prompt, ra, rb, extra = texts[pair_id]
            a_wins = va > vb
            strength = round((sa / va) if a_wins else (sb / vb))
            yield PreferenceRecord(prompt=prompt, chosen=ra if a_wins else rb, rejected=rb if a_wins else ra,
                                   objective=objective,
                                   extra={**oriented_extra(extra, a_wins), "pair_id": pair_id, "votes_a": int(va),
                                          "votes_b": int(vb), "strength": int(strength)})


def write_run_rows(s: Session, objectives: Sequence[str], path: str | Path, rows_of: Callable[[str], Iterable[
        tuple[int, dict[str, Any]]]], *, eval_fraction: float, seed: int) -> RunDataSummary:
    """A run's JSON-lines input file: for each objective (empty = every objective) the (item id, row) pairs of
    `rows_of(objective)`, each row given its train/eval `split` (split_of the item id), written to a temporary
    file first so a worker never sees a half-written one. Pairs (data.jsonl) and step labels (steps.jsonl)."""
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
            for item_id, row in rows_of(name):
                split = split_of(item_id, seed, eval_fraction)
                fh.write(json.dumps({**row, "split": split}, ensure_ascii=False) + "\n")
                counts[split] += 1
                per_objective[name] += 1
    os.replace(tmp, path)
    return RunDataSummary(path=str(path), rows=counts["train"] + counts["eval"], train_rows=counts["train"],
                          eval_rows=counts["eval"], per_objective=per_objective)


def export_run_data(s: Session, objectives: Sequence[str], path: str | Path, *, eval_fraction: float = 0.1,
                    seed: int = 0, pair_ids: Collection[int] | None = None) -> RunDataSummary:
    """Write a run's data.jsonl (store_api.md "Run folder format"); empty `objectives` = every objective;
    `pair_ids` limits it to those pairs (a round's run trains on its round's pairs)."""
    def rows_of(name: str) -> Iterator[tuple[int, dict[str, Any]]]:
        for rec in iter_preferences(s, name, pair_ids):
            pair_id = rec.extra["pair_id"]
            yield pair_id, {"pair_id": pair_id, "objective": name, "prompt": rec.prompt, "chosen": rec.chosen,
                            "rejected": rec.rejected, "strength": rec.extra["strength"]}

    return write_run_rows(s, objectives, path, rows_of, eval_fraction=eval_fraction, seed=seed)


def _unlabelled(s: Session, objective_ids: Sequence[int], limit: int) -> list[tuple[int, list[int]]]:
    """(pair id, objective ids it has no active label for) of up to `limit` pairs missing a label for some of the
    objectives, in the queue's fixed random order (pair.shuffle_key), so a capped sample is an unbiased one."""
    labelled = (select(func.count(func.distinct(LabelRow.objective_id)))
                .where(LabelRow.pair_id == PairRow.id, LabelRow.objective_id.in_(objective_ids),
                       LabelRow.superseded_at.is_(None)).scalar_subquery())
    ids = list(s.scalars(select(PairRow.id).where(labelled < len(objective_ids))
                         .order_by(PairRow.shuffle_key, PairRow.id).limit(limit)))
    have: dict[int, set[int]] = {pid: set() for pid in ids}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for pid, oid in s.execute(select(LabelRow.pair_id, LabelRow.objective_id).distinct()
                                  .where(LabelRow.pair_id.in_(chunk), LabelRow.objective_id.in_(objective_ids),
                                         LabelRow.superseded_at.is_(None))):
            have[pid].add(oid)
    return [(pid, [o for o in objective_ids if o not in have[pid]]) for pid in ids]


def export_candidates(s: Session, objectives: Sequence[str], path: str | Path, *, limit: int) -> int:
    """Write run_dir/candidates.jsonl: up to `limit` pairs that still lack an active label for some of the
    objectives (empty = every objective), one row per (pair, unlabelled objective) in data.jsonl's format with
    chosen = response a, rejected = response b, strength 2 and split "candidate". The worker scores them with the
    trained policy (workbench.training.preference.margins) for the "active" labelling order. Returns the number of rows."""
    names = list(objectives) or list(s.scalars(select(ObjectiveRow.name).order_by(ObjectiveRow.id)))
    ids = {_objective_id(s, name): name for name in names}
    wanted = _unlabelled(s, list(ids), limit) if ids and limit > 0 else []
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            texts = _texts(s, [pid for pid, _ in chunk])
            for pid, missing in chunk:
                prompt, ra, rb, _ = texts[pid]
                for oid in missing:
                    fh.write(json.dumps({"pair_id": pid, "objective": ids[oid], "prompt": prompt, "chosen": ra,
                                         "rejected": rb, "strength": 2, "split": "candidate"},
                                        ensure_ascii=False) + "\n")
                    rows += 1
    os.replace(tmp, path)
    return rows
