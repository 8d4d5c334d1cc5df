"""KTO unpaired feedback: {"prompt", "completion", "label": true|false} rows (TRL's unpaired preference format).

KTO (Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic Optimization") learns from single
completions marked desirable or undesirable. Prompt and completion are strings or chat-message lists, like TRL's
preference rows. Writing preference pairs as KTO unpairs them as TRL's `unpair_preference_dataset` does: the
chosen response becomes a desirable completion, the rejected one an undesirable completion.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from workbench.core.entities import UnpairedRecord
from workbench.core.errors import InputError
from workbench.formats.common import (Progress, Record, Row, extra_fields, read_jsonl_records, require_content,
                                      write_jsonl)

NAME = "kto"
KNOWN = ("prompt", "completion", "label", "objective")


def parse_row(row: Row, line: int, path: str) -> list[Record]:
    prompt = require_content(row, "prompt", line, path, allow_empty=True)
    completion = require_content(row, "completion", line, path)
    if isinstance(prompt, str) != isinstance(completion, str) and prompt:
        raise InputError("'prompt' and 'completion' must both be strings or both be message lists", path=path,
                         line=line)
    if "label" not in row:
        raise InputError("the field 'label' is missing (true = desirable, false = undesirable)", path=path, line=line)
    if not isinstance(row["label"], bool):
        raise InputError(f"'label' must be true or false, not {row['label']!r}", path=path, line=line)
    objective = row.get("objective")
    if objective is not None and (not isinstance(objective, str) or not objective.strip()):
        raise InputError("'objective' must be the name of an objective (a non-empty string)", path=path, line=line)
    return [UnpairedRecord(prompt=prompt, completion=completion, label=row["label"], objective=objective,
                           extra=extra_fields(row, KNOWN), line=line)]


def read(path: str | Path, progress: Progress | None = None) -> list[Record]:
    return read_jsonl_records(path, parse_row, progress)


def to_rows(record: Record) -> Iterator[Row]:
    """One row per unpaired record; two (chosen desirable, rejected undesirable) per preference pair."""
    if isinstance(record, UnpairedRecord):
        pieces = [(record.completion, record.label)]
    else:
        pieces = [(record.chosen, True), (record.rejected, False)]
    for completion, label in pieces:
        row: Row = {"prompt": record.prompt, "completion": completion, "label": label}
        if record.objective is not None:
            row["objective"] = record.objective
        row.update(extra_fields(record.extra, KNOWN))
        yield row


def write(records: Iterable[Record], path: str | Path) -> int:
    return write_jsonl((row for r in records for row in to_rows(r)), path)


def looks_like(row: Row) -> bool:
    return "completion" in row and "label" in row and "chosen" not in row


