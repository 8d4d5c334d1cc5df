"""On-policy rounds in the project file (issue #15): the round rows, their samples, pairs, labels and statistics.

Everything a round adds is idempotent, so a step repeated after a crash adds nothing twice: responses are unique
per prompt and text, pairs per (prompt, a, b), and an automatic label is only written when its annotator has no
active label on that pair and objective. Pairs store a = the lower response id (the order people see them in is
the Label panel's business); `pair.extra["round"]` repeats the round for exports and `extra["gap"]` holds the
labeller's score gap per objective (chosen minus rejected in the objective's direction, > 0) and `extra["chosen"]`
which side that is; `extra["margin"]` the round's policy's implicit-reward margin r_a − r_b (rounds 2 on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.core.errors import ProjectError
from workbench.core.rounds import RoundSettings, agreement, is_automatic
from workbench.store.annotators import get_or_create_annotator
from workbench.store.labels import add_label
from workbench.store.pairs import add_pair, add_response
from workbench.store.schema import (AnnotatorRow, EvaluationRow, LabelRow, MetricRow, ObjectiveRow, PairRow,
                                    PromptRow, RoundRow, RunRow)


@dataclass(frozen=True)
class Round:
    id: int
    number: int
    settings: RoundSettings
    run_config: dict[str, Any]
    done: dict[str, bool]
    folder: str
    prompt_ids: list[int]
    eval_prompt_ids: list[int]
    run_id: int | None = None


def _entity(s: Session, row: RoundRow) -> Round:
    raw = dict(row.settings or {})
    prompts, evaluation = raw.pop("prompt_ids", []), raw.pop("eval_prompt_ids", [])
    run_id = s.scalar(select(RunRow.id).where(RunRow.round_id == row.id).order_by(RunRow.id.desc()).limit(1))
    return Round(row.id, row.number, RoundSettings.from_dict(raw), dict(row.run_config or {}), dict(row.done or {}),
                 row.folder, list(prompts), list(evaluation), run_id)


def prompt_pool(s: Session) -> list[int]:
    """Every prompt of the project, by id: what rounds sample from (and the first ones evaluate on)."""
    return list(s.scalars(select(PromptRow.id).order_by(PromptRow.id)))


def create_round(s: Session, settings: RoundSettings, run_config: dict[str, Any], prompt_ids: list[int],
                 eval_prompt_ids: list[int], rounds_root: str | Path) -> Round:
    """The next round (number = last + 1) with its folder rounds_root/round-<n>/ created."""
    number = int(s.scalar(select(func.max(RoundRow.number))) or 0) + 1
    folder = Path(rounds_root) / f"round-{number}"
    folder.mkdir(parents=True, exist_ok=True)
    row = RoundRow(number=number, settings={**settings.to_dict(), "prompt_ids": list(prompt_ids),
                                            "eval_prompt_ids": list(eval_prompt_ids)},
                   run_config=dict(run_config), done={}, folder=str(folder))
    s.add(row)
    s.flush()
    return _entity(s, row)


def list_rounds(s: Session) -> list[Round]:
    return [_entity(s, r) for r in s.scalars(select(RoundRow).order_by(RoundRow.number))]


def get_round(s: Session, number: int) -> Round:
    row = s.scalar(select(RoundRow).where(RoundRow.number == number))
    if row is None:
        raise ProjectError(f"round {number} does not exist: `workbench round PROJECT --status` lists the rounds")
    return _entity(s, row)


def mark_done(s: Session, round_id: int, step: str, done: bool = True) -> None:
    row = s.get_one(RoundRow, round_id)
    row.done = {**dict(row.done or {}), step: done}  # a new dict: JSON columns do not track in-place changes
    s.flush()


def attach_run(s: Session, round_id: int, run_id: int) -> None:
    s.get_one(RunRow, run_id).round_id = round_id
    s.flush()


def prompt_contents(s: Session, ids: list[int]) -> list[dict[str, Any]]:
    """[{"id", "prompt"}] with the prompt as its messages when it came as a conversation, else its text."""
    rows = {r.id: r for r in s.scalars(select(PromptRow).where(PromptRow.id.in_(ids)))}
    return [{"id": i, "prompt": rows[i].messages if rows[i].messages is not None else rows[i].text}
            for i in ids if i in rows]


def add_samples(s: Session, round_number: int, rows: list[dict[str, Any]], model: str
                ) -> dict[int, list[tuple[str, int, str]]]:
    """Store a round's sampled answers as responses; prompt id -> [(source, response id, text)], the first
    occurrence of each text per source (two identical samples are one response)."""
    out: dict[int, list[tuple[str, int, str]]] = {}
    for row in rows:
        pid, source = int(row["prompt_id"]), str(row["source"])
        seen = {(src, rid) for src, rid, _ in out.get(pid, [])}
        for i, text in enumerate(row["texts"]):
            if not text.strip():
                continue
            response = add_response(s, pid, text, model=f"{model} [round {round_number} {source}]",
                                    generation={"round": round_number, "source": source, "seed": row.get("seed"),
                                                "index": i})
            if (source, response.id) not in seen:
                seen.add((source, response.id))
                out.setdefault(pid, []).append((source, response.id, text))
    return out


def add_round_pair(s: Session, round_id: int, round_number: int, prompt_id: int, a: int, b: int,
                   gaps: dict[str, float], chosen: dict[str, str], margin: float | None = None) -> int:
    """The pair (a, b) tagged with its round, with the labeller's per-objective gap (chosen minus rejected, > 0)
    and which side is chosen ("a" | "b"), and `margin`: r_a − r_b, the implicit rewards of the round's policy
    (the parent run's checkpoint) when it scored its samples; returns its id. A pair an earlier round built keeps
    that round."""
    extra = {"round": round_number, "gap": dict(gaps), "chosen": dict(chosen)}
    if margin is not None:
        extra["margin"] = float(margin)
    pair = add_pair(s, prompt_id, a, b, source=f"round {round_number}", extra=extra)
    row = s.get_one(PairRow, pair.id)
    if row.round_id is None:
        row.round_id = round_id
        row.extra = {**dict(row.extra or {}), **extra}
    s.flush()
    return pair.id


def add_auto_label(s: Session, pair_id: int, objective: str, annotator: str, choice: str) -> bool:
    """An automatic label, unless that annotator already has an active one here (a repeated step adds nothing)."""
    oid = s.scalar(select(ObjectiveRow.id).where(ObjectiveRow.name == objective))
    if oid is None:
        raise ProjectError(f"the project has no objective named {objective!r}")
    aid = get_or_create_annotator(s, annotator).id
    exists = s.scalar(select(LabelRow.id).where(LabelRow.pair_id == pair_id, LabelRow.objective_id == oid,
                                                LabelRow.annotator_id == aid, LabelRow.superseded_at.is_(None)))
    if exists is not None:
        return False
    add_label(s, pair_id, oid, aid, choice)
    return True


def round_pair_ids(s: Session, round_id: int) -> list[int]:
    return list(s.scalars(select(PairRow.id).where(PairRow.round_id == round_id).order_by(PairRow.id)))


def unlabelled_pairs(s: Session, round_id: int, objectives: list[str]) -> int:
    """Round pairs still missing an active label for some objective (what people still owe; the rule is
    store.round_label.labelled_pairs)."""
    from workbench.store.round_label import label_progress

    oids = list(s.scalars(select(ObjectiveRow.id).where(ObjectiveRow.name.in_(objectives))))
    labelled, total = label_progress(s, round_id, oids)
    return total - labelled


@dataclass(frozen=True)
class RoundStats:
    """What changed in one round (issue #15 item 3): its pairs and labels, the labeller's chosen-rejected gap,
    the trained run's final implicit-reward margin, and its reward vector on the fixed evaluation prompts."""

    number: int
    run_id: int | None
    done: dict[str, bool]
    pairs: int
    human_labels: int
    auto_labels: int
    agreement: float | None
    gap: dict[str, float] = field(default_factory=dict)
    train_margin: float | None = None
    values: dict[str, float] = field(default_factory=dict)  # `<objective>/score`, kl, length, ...
    labelled: int = 0  # pairs labelled for every objective (store.round_label: the Label step's rule)


def _labels(s: Session, pair_ids: list[int]) -> list[tuple[int, int, str, str]]:
    rows = s.execute(select(LabelRow.pair_id, LabelRow.objective_id, AnnotatorRow.name, LabelRow.choice)
                     .join(AnnotatorRow, AnnotatorRow.id == LabelRow.annotator_id)
                     .where(LabelRow.pair_id.in_(pair_ids), LabelRow.superseded_at.is_(None)))
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def round_stats(s: Session, rnd: Round) -> RoundStats:
    pair_ids = round_pair_ids(s, rnd.id)
    labels = _labels(s, pair_ids) if pair_ids else []
    labels = [row for row in labels if row[3] != "skip"]  # a skip is no label (issue #13): not in the counts
    auto = [(p, o, c) for p, o, n, c in labels if is_automatic(n)]
    human = [(p, o, c) for p, o, n, c in labels if not is_automatic(n)]
    machine = {(p, o): c for p, o, c in auto}
    agree = agreement([(c, machine[(p, o)]) for p, o, c in human if (p, o) in machine])
    gaps: dict[str, list[float]] = {}
    for extra in s.scalars(select(PairRow.extra).where(PairRow.id.in_(pair_ids))):
        for objective, g in dict((extra or {}).get("gap", {})).items():
            gaps.setdefault(objective, []).append(float(g))
    margin = values = None
    if rnd.run_id is not None:
        margin = s.scalar(select(MetricRow.value).where(MetricRow.run_id == rnd.run_id,
                                                        MetricRow.key == "rewards/margins")
                          .order_by(MetricRow.step.desc()).limit(1))
        values = latest_evaluation(s, rnd.run_id)
    from workbench.store.round_label import label_progress, round_objective_ids

    labelled, _ = label_progress(s, rnd.id, round_objective_ids(s, rnd.id))
    return RoundStats(rnd.number, rnd.run_id, rnd.done, len(pair_ids), len(human), len(auto), agree,
                      {o: sum(v) / len(v) for o, v in sorted(gaps.items())}, margin, values or {}, labelled)


def latest_evaluation(s: Session, run_id: int) -> dict[str, float]:
    """The values of the run's most recent evaluation of its final checkpoint without mixture weights."""
    rows = s.execute(select(EvaluationRow.objective, EvaluationRow.metric, EvaluationRow.value, EvaluationRow.weights)
                     .where(EvaluationRow.run_id == run_id, EvaluationRow.checkpoint_id.is_not(None))
                     .order_by(EvaluationRow.id)).all()
    out: dict[str, float] = {}
    for objective, metric, value, weights in rows:  # later rows win: the latest evaluation
        if weights:  # a mixture of heads, not the checkpoint as trained
            continue
        key = f"{objective}/{metric}" if objective else metric
        out[key] = math.nan if value is None else float(value)
    return out
