"""TRL stepwise supervision JSON Lines: {"prompt", "completions": [step, ...], "labels": [bool, ...]}.

The dataset TRL's PRMTrainer trains on (huggingface/trl, docs "Dataset formats: stepwise supervision"; e.g.
trl-lib/math_shepherd, trl-lib/prm800k): a string prompt (the standard, non-chat form: the only one PRMTrainer
takes), the solution's steps, one label per step (true = correct). Labels given as numbers go through int() as
TRL's `tokenize_row` does. An optional reference-answer column (`reference_answer`, or `answer`,
`ground_truth_answer`, ... as some sets name it) is kept with the record and written back under the same name;
other columns are kept and written back.

Writing: a step rated neutral (0) becomes false, as in TRL's PRM800K conversion (`neutral_is_good=True` makes it
true); steps after the first unrated one are not written, since the format has no "not rated".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from workbench.core.errors import InputError
from workbench.core.steps import StepwiseRecord, ratings_to_bools
from workbench.formats.common import Progress, Row, _kind, require_text, write_jsonl
from workbench.formats.step_common import (ANSWER_COLUMNS, bool_label, extra_columns, extras, labelled_prefix,
                                           read_step_records, reference_answer, require_steps)

NAME = "trl-stepwise"
KNOWN = ("prompt", "completions", "labels")


def parse_row(row: Row, line: int, path: str) -> list[StepwiseRecord]:
    prompt = row.get("prompt")
    if isinstance(prompt, list):
        raise InputError("'prompt' is a list of chat messages: stepwise supervision takes a plain-text prompt "
                         "(TRL's PRMTrainer accepts the standard form only)", path=path, line=line)
    prompt = require_text(row, "prompt", line, path)
    steps = require_steps(row, "completions", line, path)
    if "labels" not in row:
        raise InputError("the field 'labels' is missing (one true/false per step)", path=path, line=line)
    labels = row["labels"]
    if not isinstance(labels, list):
        raise InputError(f"'labels' must be a list of true/false, one per step, not {_kind(labels)}", path=path,
                         line=line)
    if len(labels) != len(steps):
        raise InputError(f"{len(steps)} steps in 'completions' but {len(labels)} labels: give one label per step",
                         path=path, line=line)
    ratings = tuple(bool_label(v, i, "labels", line, path) for i, v in enumerate(labels))
    column, answer = reference_answer(row, line, path)
    meta = extras(row, (*KNOWN, column))
    if column and column != ANSWER_COLUMNS[0]:
        meta[NAME] = {"answer_column": column}  # written back under the name it came with
    return [StepwiseRecord(prompt=prompt, steps=tuple(steps), ratings=ratings, reference_answer=answer, meta=meta)]


def read(path: str | Path, progress: Progress | None = None) -> list[StepwiseRecord]:
    return read_step_records(path, parse_row, progress)


def to_row(record: StepwiseRecord, *, neutral_is_good: bool = False) -> Row | None:
    """The TRL row of a record (None when its first step is unrated: nothing to write)."""
    steps, ratings = labelled_prefix(record)
    if not steps:
        return None
    row: Row = {"prompt": record.prompt, "completions": steps,
                "labels": ratings_to_bools(list(ratings), neutral_is_good=neutral_is_good)}
    named = (record.meta.get(NAME) or {}).get("answer_column")
    column = named if named in ANSWER_COLUMNS else ANSWER_COLUMNS[0]
    extra = extra_columns(record, (*KNOWN, column))
    # an empty answer is written too when it was read under its own column, or when another answer column rides
    # along in the extras (read back, that one would take its place)
    if record.reference_answer or column == named or any(k in extra for k in ANSWER_COLUMNS):
        row[column] = record.reference_answer
    row.update(extra)
    return row


def _rows(records: Iterable[StepwiseRecord], neutral_is_good: bool) -> Iterator[Row]:
    for record in records:
        row = to_row(record, neutral_is_good=neutral_is_good)
        if row is not None:
            yield row


def write(records: Iterable[StepwiseRecord], path: str | Path, *, neutral_is_good: bool = False) -> int:
    """Write records as TRL stepwise JSONL (what PRMTrainer loads with `load_dataset("json", ...)`)."""
    return write_jsonl(_rows(records, neutral_is_good), path)


def looks_like(row: Row) -> bool:
    return "completions" in row and "labels" in row and "instruction" not in row
