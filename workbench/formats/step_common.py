"""What the step-labelled formats share (TRL stepwise, PRM800K, Math-Shepherd, ProcessBench): field checks for
steps and labels, the reference-answer column, and reading a file of rows into `StepwiseRecord`s with the same
all-or-nothing rule and line-numbered errors as the pair formats (formats.common).

`record.meta["extra"]` holds the columns a format does not interpret (a Math-Shepherd "task", a ProcessBench
"id"); every step writer puts them back as columns, like `PreferenceRecord.extra`. A format that needs more of its
own layout to write a row back as it was (PRM800K's alternative completions) keeps it under `meta[<format name>]`,
which only that format's writer reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

from workbench.core.errors import InputError
from workbench.core.steps import BAD, GOOD, StepwiseRecord
from workbench.formats.common import Progress, Row, _kind, extra_fields, read_jsonl_records

# (row, line, path) -> the step records of that row ([] for a row with nothing labelled); InputError when bad
StepRowParser = Callable[[Row, int, str], list[StepwiseRecord]]
EXTRA = "extra"
# Columns that may carry the reference (ground-truth) answer, first found wins; writers use the first name.
ANSWER_COLUMNS = ("reference_answer", "answer", "ground_truth_answer", "ground_truth", "final_answer")


def read_step_records(path: str | Path, parse_row: StepRowParser, progress: Progress | None = None
                      ) -> list[StepwiseRecord]:
    """Every step record of a JSONL file, or one InputError for its first problem naming the other bad lines."""
    return cast(list[StepwiseRecord], read_jsonl_records(path, cast(Any, parse_row), progress))


def require_steps(row: Row, key: str, line: int, path: str) -> list[str]:
    """row[key] as a non-empty list of non-empty strings (the steps of one solution)."""
    if key not in row:
        raise InputError(f"the field '{key}' is missing (the list of steps)", path=path, line=line)
    value = row[key]
    if not isinstance(value, list):
        raise InputError(f"'{key}' must be a list of step texts, not {_kind(value)}", path=path, line=line)
    if not value:
        raise InputError(f"'{key}' is an empty list: a solution needs at least one step", path=path, line=line)
    for i, step in enumerate(value, start=1):
        if not isinstance(step, str):
            raise InputError(f"step {i} of '{key}' must be a string, not {_kind(step)}", path=path, line=line)
        if not step.strip():
            raise InputError(f"step {i} of '{key}' is empty: remove it or fill it in", path=path, line=line)
    return value


def bool_label(value: Any, index: int, key: str, line: int, path: str) -> int:
    """A TRL step label as a rating: true/1 -> good, false/0 -> bad. Numbers go through int() as TRL's
    PRMTrainer does (`tokenize_row`), so a soft label 0.7 counts as 0 (bad): binarise soft labels first."""
    if isinstance(value, bool):
        return GOOD if value else BAD
    if isinstance(value, (int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
        as_int = int(value)
        if as_int in (0, 1):
            return GOOD if as_int == 1 else BAD
    raise InputError(f"label {index + 1} of '{key}' must be true or false (or 1/0), not {value!r}", path=path,
                     line=line)


def reference_answer(row: Row, line: int, path: str, columns: Iterable[str] = ANSWER_COLUMNS) -> tuple[str, str]:
    """(column, answer) of the first answer column present and not null; ("", "") when there is none. Numbers are
    kept as they are written ("72", "0.5")."""
    for key in columns:
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InputError(f"'{key}' (the reference answer) must be a string or a number, not {_kind(value)}",
                             path=path, line=line)
        return key, value if isinstance(value, str) else repr(value)
    return "", ""


def extras(row: Row, known: Iterable[str]) -> dict[str, Any]:
    """meta with the row's uninterpreted columns ({} when there are none, so records compare equal)."""
    extra = extra_fields(row, known)
    return {EXTRA: extra} if extra else {}


def extra_columns(record: StepwiseRecord, known: Iterable[str]) -> dict[str, Any]:
    """The record's uninterpreted columns to write back, minus any that a format's own fields would overwrite."""
    return extra_fields(record.meta.get(EXTRA) or {}, known)


def labelled_prefix(record: StepwiseRecord) -> tuple[list[str], list[int]]:
    """The steps up to the first unrated one, with their ratings: formats with one label per step (TRL,
    Math-Shepherd) cannot say "not rated", and steps after the first error are often left unrated (PRM800K
    phase 2, "first error here")."""
    steps: list[str] = []
    ratings: list[int] = []
    for text, rating in zip(record.steps, record.ratings, strict=True):
        if rating is None:
            break
        steps.append(text)
        ratings.append(rating)
    return steps, ratings
