"""Anthropic HH-RLHF: {"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": ...} whole transcripts.

The two transcripts of a row share the dialogue up to the final assistant turn (Bai et al. 2022, "Training a
Helpful and Harmless Assistant with RLHF", §2.2). The prompt is their longest common prefix cut after its last
"\\n\\nAssistant:"; the responses are the remainders, kept byte for byte (usually starting with a space), so an
export writes the original transcripts back as prompt + response.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from workbench.core.entities import PreferenceRecord
from workbench.core.errors import InputError
from workbench.formats.common import (Progress, Record, Row, check_distinct, extra_fields, read_jsonl_records,
                                      require_text, write_jsonl)

NAME = "hh-rlhf"
KNOWN = ("chosen", "rejected")
HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"


def split_transcripts(chosen: str, rejected: str) -> tuple[str, str, str] | None:
    """(prompt, chosen response, rejected response), or None when no shared prefix ends in an assistant turn."""
    limit = min(len(chosen), len(rejected))
    common = next((i for i in range(limit) if chosen[i] != rejected[i]), limit)
    cut = chosen.rfind(ASSISTANT, 0, common)  # a match lies wholly inside chosen[:common]
    if cut < 0:
        return None
    end = cut + len(ASSISTANT)
    return chosen[:end], chosen[end:], rejected[end:]


def parse_row(row: Row, line: int, path: str) -> list[Record]:
    chosen = require_text(row, "chosen", line, path)
    rejected = require_text(row, "rejected", line, path)
    check_distinct(chosen, rejected, line, path)
    parts = split_transcripts(chosen, rejected)
    if parts is None:
        raise InputError("'chosen' and 'rejected' do not share a dialogue ending in '\\n\\nAssistant:': not an "
                         "HH-RLHF transcript pair (try --format trl)", path=path, line=line)
    prompt, good, bad = parts
    for key, value in (("chosen", good), ("rejected", bad)):
        if not value.strip():
            raise InputError(f"'{key}' has no assistant reply after the shared dialogue", path=path, line=line)
    return [PreferenceRecord(prompt=prompt, chosen=good, rejected=bad, extra=extra_fields(row, KNOWN), line=line)]


def read(path: str | Path, progress: Progress | None = None) -> list[Record]:
    return read_jsonl_records(path, parse_row, progress)


def to_row(record: Record) -> Row:
    """The two full transcripts of a text record (prompt + response), extra columns after them."""
    if not isinstance(record, PreferenceRecord) or not all(
            isinstance(v, str) for v in (record.prompt, record.chosen, record.rejected)):
        raise InputError("HH-RLHF rows are text transcripts of preference pairs; these pairs are chat messages "
                         "or unpaired feedback: export as trl or kto")
    return {"chosen": record.prompt + record.chosen, "rejected": record.prompt + record.rejected,
            **extra_fields(record.extra, KNOWN)}


def write(records: Iterable[Record], path: str | Path) -> int:
    return write_jsonl((to_row(r) for r in records), path)


def looks_like(row: Row) -> bool:
    """Text transcripts with Human/Assistant turns and no separate prompt."""
    chosen = row.get("chosen")
    return ("prompt" not in row and isinstance(chosen, str) and isinstance(row.get("rejected"), str)
            and HUMAN in chosen and ASSISTANT in chosen)
