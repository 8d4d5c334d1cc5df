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

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from workbench.core.steps import ratings_to_bools
from workbench.store.exports import RunDataSummary, write_run_rows
from workbench.store.step_records import iter_stepwise

STEPS_FILE = "steps.jsonl"


def export_step_run_data(s: Session, objectives: Sequence[str], path: str | Path, *, eval_fraction: float = 0.1,
                         seed: int = 0, neutral_is_good: bool = False) -> RunDataSummary:
    """Write steps.jsonl (see the module docstring); empty `objectives` = every objective."""
    def rows_of(name: str) -> Iterator[tuple[int, dict[str, Any]]]:
        for response_id, rec in iter_stepwise(s, name):
            labels = ratings_to_bools(list(rec.ratings), neutral_is_good=neutral_is_good)
            yield response_id, {"response_id": response_id, "objective": name, "prompt": rec.prompt,
                                "completions": list(rec.steps), "labels": labels}

    return write_run_rows(s, objectives, path, rows_of, eval_fraction=eval_fraction, seed=seed)
