"""ProcessBench JSON Lines (HF Qwen/ProcessBench; Zheng et al. 2024, "ProcessBench: Identifying Process Errors in
Mathematical Reasoning"): {"id", "generator", "problem", "steps": [paragraph, ...], "final_answer_correct",
"label": index of the earliest wrong step (0-based), or -1 when no step is wrong}.

A row becomes one record whose ratings say what the label says and no more (core.steps.ratings_from_first_error):
the steps before the first error good, the error bad, the steps after it unrated. The other columns are kept.
Writing gives each record's first bad step as the label; a record with an unrated step before it (or, with no
bad step, any unrated step) cannot say where its first error is and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from workbench.core.errors import InputError
from workbench.core.steps import StepwiseRecord, first_error, ratings_from_first_error
from workbench.formats.common import Progress, Row, require_text, write_jsonl
from workbench.formats.step_common import extra_columns, extras, read_step_records, require_steps

NAME = "processbench"
KNOWN = ("problem", "steps", "label")


def parse_row(row: Row, line: int, path: str) -> list[StepwiseRecord]:
    problem = require_text(row, "problem", line, path)
    steps = require_steps(row, "steps", line, path)
    if "label" not in row:
        raise InputError("the field 'label' is missing (the index of the first wrong step, or -1)", path=path,
                         line=line)
    label = row["label"]
    if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < len(steps):
        raise InputError(f"'label' must be the 0-based index of the first wrong step (0 to {len(steps) - 1}) or -1 "
                         f"when every step is right, not {label!r}", path=path, line=line)
    return [StepwiseRecord(prompt=problem, steps=tuple(steps), ratings=tuple(ratings_from_first_error(len(steps),
                           label)), meta=extras(row, KNOWN))]


def read(path: str | Path, progress: Progress | None = None) -> list[StepwiseRecord]:
    return read_step_records(path, parse_row, progress)


def to_row(record: StepwiseRecord) -> Row:
    index = first_error(list(record.ratings))
    known = record.ratings if index < 0 else record.ratings[:index]
    if None in known:
        where = "" if index < 0 else f" before its first error (step {index + 1})"
        raise InputError(f"the solution to {record.prompt[:40]!r} has unrated steps{where}, so its first error is "
                         "unknown: rate them, or export as trl-stepwise or prm800k")
    row: Row = {"problem": record.prompt, "steps": list(record.steps), "label": index}
    row.update(extra_columns(record, KNOWN))
    return row


def write(records: Iterable[StepwiseRecord], path: str | Path) -> int:
    return write_jsonl((to_row(r) for r in records), path)


def looks_like(row: Row) -> bool:
    return "problem" in row and "steps" in row and "label" in row
