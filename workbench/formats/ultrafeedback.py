"""UltraFeedback (openbmb/UltraFeedback): one instruction, several rated completions, one objective per aspect.

A row is {"instruction": str, "completions": [{"response": str, "model": str, "annotations": {aspect: {"Rating":
"4", "Rationale": ...}, ...}, ...}], ...}; the aspects are instruction_following, honesty, truthfulness and
helpfulness (Cui et al. 2023, "UltraFeedback", §2.2), and a rating may be "N/A".

Pair rule, per aspect (the aspect's name is the record's objective): every two completions that both have a
numeric rating and whose ratings differ give one pair, the higher-rated completion chosen. Equal ratings give no
pair (no preference to learn), "N/A" ratings take part in no pair, and two completions with the same text give
no pair. Pairs come in aspect order (as the annotations list them), then completion order (i < j).

Each record's `extra` holds score_chosen/score_rejected (the two ratings, named as in the binarized
UltraFeedback layout), chosen_index/rejected_index (positions in `completions`), chosen_completion/
rejected_completion (the completion's other fields: model, principle, ...), and the row's other columns.
`write` rebuilds rows from such records; completions that take part in no pair are not written.

The binarized layout (prompt/chosen/rejected/score_chosen/score_rejected) is read as TRL rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.core.entities import PreferenceRecord
from workbench.core.errors import InputError
from workbench.formats import trl
from workbench.formats.common import (Progress, Record, Row, extra_fields, read_jsonl_records, require_text,
                                      write_jsonl)

NAME = "ultrafeedback"
KNOWN = ("instruction", "completions")
PAIR_KEYS = ("score_chosen", "score_rejected", "chosen_index", "rejected_index", "chosen_completion",
             "rejected_completion")
Rating = int | float


def parse_rating(value: Any, where: str, line: int, path: str) -> Rating | None:
    """A rating as a number; None for "N/A" (or a missing rating)."""
    if isinstance(value, dict):
        value = value.get("Rating")
    if value is None or (isinstance(value, str) and value.strip().upper() in ("N/A", "NA", "")):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{where}: the rating must be a number or \"N/A\"", path=path, line=line)
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{where}: the rating {value!r} is not a number or \"N/A\"", path=path, line=line) from None
    return int(number) if number.is_integer() else number


def _completion(value: Any, index: int, line: int, path: str) -> tuple[str, dict[str, Rating | None], Row]:
    """(response, rating per aspect, other fields) of completions[index]."""
    where = f"completion {index + 1}"
    if not isinstance(value, dict):
        raise InputError(f"{where} must be an object with 'response' and 'annotations'", path=path, line=line)
    try:
        response = require_text(value, "response", line, path)
    except InputError as exc:
        raise InputError(f"{where}: {str(exc).split(': ', 1)[1]}", path=path, line=line) from None
    annotations = value.get("annotations")
    if not isinstance(annotations, dict):
        raise InputError(f"{where} needs 'annotations': an object of aspect ratings", path=path, line=line)
    ratings = {aspect: parse_rating(v, f"{where}, aspect '{aspect}'", line, path) for aspect, v in annotations.items()}
    return response, ratings, extra_fields(value, ("response", "annotations"))


def parse_row(row: Row, line: int, path: str) -> list[Record]:
    """The preference records of one UltraFeedback row (see the module docstring for the pair rule)."""
    if "completions" not in row:
        if "chosen" in row and "rejected" in row:
            return trl.parse_row(row, line, path)  # the binarized layout
        raise InputError("neither 'completions' (UltraFeedback) nor 'chosen'/'rejected' (binarized UltraFeedback)",
                         path=path, line=line)
    prompt = require_text(row, "instruction", line, path, allow_empty=True)
    if not isinstance(row["completions"], list):
        raise InputError("'completions' must be a list", path=path, line=line)
    completions = [_completion(c, i, line, path) for i, c in enumerate(row["completions"])]
    aspects = list(dict.fromkeys(a for _, ratings, _ in completions for a in ratings))
    common = extra_fields(row, KNOWN)
    records: list[Record] = []
    for aspect in aspects:
        for i, (text_i, ratings_i, fields_i) in enumerate(completions):
            for j in range(i + 1, len(completions)):
                text_j, ratings_j, fields_j = completions[j]
                ri, rj = ratings_i.get(aspect), ratings_j.get(aspect)
                if ri is None or rj is None or ri == rj or text_i == text_j:
                    continue
                win, lose = ((i, text_i, ri, fields_i), (j, text_j, rj, fields_j))[:: 1 if ri > rj else -1]
                extra = {**common, "score_chosen": win[2], "score_rejected": lose[2], "chosen_index": win[0],
                         "rejected_index": lose[0], "chosen_completion": win[3], "rejected_completion": lose[3]}
                records.append(PreferenceRecord(prompt=prompt, chosen=win[1], rejected=lose[1], objective=aspect,
                                                extra=extra, line=line))
    return records


def read(path: str | Path, progress: Progress | None = None) -> list[Record]:
    return read_jsonl_records(path, parse_row, progress)


def _rating_text(value: Rating | None) -> str:
    return "N/A" if value is None else str(value)


class _RowBuilder:
    """Collects the completions and ratings of one instruction from its pair records."""

    def __init__(self, prompt: str, common: Row) -> None:
        self.prompt = prompt
        self.common = common
        self.completions: dict[str, tuple[int, Row]] = {}  # response -> (index, other fields)
        self.ratings: dict[str, dict[str, Rating]] = {}  # aspect -> response -> rating
        self.next_index = 0

    def add(self, record: PreferenceRecord) -> None:
        extra = record.extra
        if record.objective is None or not isinstance(record.chosen, str) or not isinstance(record.rejected, str):
            raise InputError("UltraFeedback rows need text responses and an objective (the aspect): export as trl")
        if not all(isinstance(extra.get(k), (int, float)) for k in ("score_chosen", "score_rejected")):
            raise InputError("these pairs carry no ratings (score_chosen/score_rejected) to write UltraFeedback "
                             "rows from: export as trl")
        aspect = self.ratings.setdefault(record.objective, {})
        for side, text in (("chosen", record.chosen), ("rejected", record.rejected)):
            if text not in self.completions:
                index = extra.get(f"{side}_index")
                index = index if isinstance(index, int) else 10**9 + self.next_index
                self.completions[text] = (index, dict(extra.get(f"{side}_completion") or {}))
                self.next_index += 1
            aspect[text] = extra[f"score_{side}"]

    def row(self) -> Row:
        ordered = sorted(self.completions.items(), key=lambda item: item[1][0])
        completions = [{**fields, "response": text,
                        "annotations": {a: {"Rating": _rating_text(r.get(text))} for a, r in self.ratings.items()}}
                       for text, (_, fields) in ordered]
        return {"instruction": self.prompt, "completions": completions, **self.common}


def write(records: Iterable[Record], path: str | Path) -> int:
    """Rows rebuilt from pair records (one per instruction, in order of first appearance); returns rows written."""
    builders: dict[str, _RowBuilder] = {}
    for record in records:
        if not isinstance(record, PreferenceRecord) or not isinstance(record.prompt, str):
            raise InputError("UltraFeedback rows need preference pairs with a text instruction: export as trl")
        if record.prompt not in builders:
            builders[record.prompt] = _RowBuilder(record.prompt, extra_fields(record.extra, PAIR_KEYS))
        builders[record.prompt].add(record)
    return write_jsonl((b.row() for b in builders.values()), path)


def looks_like(row: Row) -> bool:
    return "completions" in row and "instruction" in row
