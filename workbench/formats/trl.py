"""TRL preference JSON Lines: {"prompt", "chosen", "rejected"} as strings or chat-message lists.

The forms TRL's DPOTrainer accepts (huggingface/trl, docs "Dataset formats", `trl/data_utils.py`):
- standard: prompt, chosen and rejected are strings;
- conversational: prompt is a list of messages, chosen/rejected lists with the assistant message(s);
- implicit prompt: no "prompt"; chosen and rejected are whole texts or conversations that start with the same
  prompt, split off by `extract_prompt` exactly as TRL's `extract_prompt` does;
- the HuggingFaceH4/ultrafeedback_binarized form: a prompt string next to full conversations, handled as the
  implicit form (the shared messages are the prompt).
An optional string "objective" column says which objective the preference is for. Every other column
(score_chosen, score_rejected, prompt_id, ...) is kept in `record.extra` and written back by `write_trl`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.core.entities import Messages, PreferenceRecord
from workbench.core.errors import InputError
from workbench.formats.common import (Progress, Record, Row, check_distinct, extra_fields, read_jsonl_records,
                                      require_content, write_jsonl)

NAME = "trl"
KNOWN = ("prompt", "chosen", "rejected", "objective")


def extract_prompt(chosen: str | Messages, rejected: str | Messages) -> tuple[Any, Any, Any]:
    """(prompt, chosen, rejected) from two texts or conversations that share their beginning.

    Mirrors TRL's `extract_prompt`: the prompt is the common prefix up to the first difference (whole messages
    for conversations, characters for texts), and for texts a space just before the difference stays with the
    responses ("The sky is" + " blue." rather than "The sky is " + "blue.").
    """
    limit = min(len(chosen), len(rejected))
    idx = next((i for i in range(limit) if chosen[i] != rejected[i]), limit)
    if isinstance(chosen, str) and idx > 0 and chosen[idx - 1] == " ":
        idx -= 1
    return chosen[:idx], chosen[idx:], rejected[idx:]


def _objective(row: Row, line: int, path: str) -> str | None:
    value = row.get("objective")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError("'objective' must be the name of an objective (a non-empty string)", path=path, line=line)
    return value


def _split(row: Row, line: int, path: str) -> tuple[Any, Any, Any]:
    """(prompt, chosen, rejected) of a row in any of the accepted forms, checked for shape and emptiness."""
    chosen = require_content(row, "chosen", line, path)
    rejected = require_content(row, "rejected", line, path)
    if isinstance(chosen, str) != isinstance(rejected, str):
        raise InputError("'chosen' and 'rejected' must both be strings or both be message lists", path=path,
                         line=line)
    check_distinct(chosen, rejected, line, path)
    if "prompt" not in row:
        prompt, chosen, rejected = extract_prompt(chosen, rejected)
    else:
        prompt = require_content(row, "prompt", line, path, allow_empty=True)
        if isinstance(chosen, str) and not isinstance(prompt, str):
            raise InputError("'prompt' is a list of messages but 'chosen'/'rejected' are strings: use one form "
                             "for all three", path=path, line=line)
        if isinstance(prompt, str) and not isinstance(chosen, str):
            shared, chosen, rejected = extract_prompt(chosen, rejected)
            prompt = shared or ([{"role": "user", "content": prompt}] if prompt else [])
    for key, value in (("chosen", chosen), ("rejected", rejected)):
        if not value or (isinstance(value, str) and not value.strip()):
            raise InputError(f"'{key}' is empty once the prompt it shares with the other response is removed",
                             path=path, line=line)
    return prompt, chosen, rejected


def parse_row(row: Row, line: int, path: str) -> list[Record]:
    """The one preference record of a TRL row."""
    prompt, chosen, rejected = _split(row, line, path)
    return [PreferenceRecord(prompt=prompt, chosen=chosen, rejected=rejected, objective=_objective(row, line, path),
                             extra=extra_fields(row, KNOWN), line=line)]


def to_row(record: Record) -> Row:
    """The TRL row of a preference record (explicit prompt form), extra columns after the known ones."""
    if not isinstance(record, PreferenceRecord):
        raise InputError("unpaired (KTO) feedback cannot be written as preference pairs: export it as 'kto'")
    row: Row = {"prompt": record.prompt, "chosen": record.chosen, "rejected": record.rejected}
    if record.objective is not None:
        row["objective"] = record.objective
    row.update(extra_fields(record.extra, KNOWN))
    return row


def read(path: str | Path, progress: Progress | None = None) -> list[Record]:
    return read_jsonl_records(path, parse_row, progress)


def write_trl(records: Iterable[Record], path: str | Path) -> int:
    """Write preference records as TRL JSONL (what DPOTrainer loads with `load_dataset("json", ...)`)."""
    return write_jsonl((to_row(r) for r in records), path)


def looks_like(row: Row) -> bool:
    """A first row that is a preference row (checked after the more specific HH-RLHF transcripts)."""
    return "chosen" in row and "rejected" in row
