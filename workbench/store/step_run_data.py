"""A PRM run's training data (issue #17): run_dir/steps.jsonl in TRL's stepwise-supervision format.

One row per step-labelled response and objective:
    {"response_id": 7, "objective": "correct", "prompt": "...", "completions": ["step 1", ...],
     "labels": [true, false, null, ...], "split": "train" | "eval"}
`labels` come from store.step_records.export_stepwise (the latest human rating per step) through
core.steps.ratings_to_bools: good -> true, bad -> false, neutral -> false unless `neutral_is_good` (as TRL's own
PRM800K conversion), unrated -> null (a step without a label: the trainer masks it). The split is the stable
`exports.split_of(response_id, seed, eval_fraction)`, so runs with the same seed hold out the same responses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.errors import ProjectError
from workbench.core.steps import ratings_to_bools
from workbench.store.exports import RunDataSummary, split_of
from workbench.store.schema import ObjectiveRow
from workbench.store.step_records import iter_stepwise

STEPS_FILE = "steps.jsonl"


def export_step_run_data(s: Session, objectives: Sequence[str], path: str | Path, *, eval_fraction: float = 0.1,
                         seed: int = 0, neutral_is_good: bool = False) -> RunDataSummary:
    """Write steps.jsonl (see the module docstring); empty `objectives` = every objective."""
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
            for response_id, rec in iter_stepwise(s, name):
                labels = ratings_to_bools(list(rec.ratings), neutral_is_good=neutral_is_good)
                split = split_of(response_id, seed, eval_fraction)
                fh.write(json.dumps({"response_id": response_id, "objective": name, "prompt": rec.prompt,
                                     "completions": list(rec.steps), "labels": labels, "split": split},
                                    ensure_ascii=False) + "\n")
                counts[split] += 1
                per_objective[name] += 1
    os.replace(tmp, path)  # a worker never sees a half-written file
    return RunDataSummary(path=str(path), rows=counts["train"] + counts["eval"], train_rows=counts["train"],
                          eval_rows=counts["eval"], per_objective=per_objective)
