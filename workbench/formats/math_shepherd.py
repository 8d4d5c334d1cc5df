"""Math-Shepherd JSON Lines: {"input": problem + "Step k: ... ки" lines, "label": the same text with each ки
replaced by + (correct) or - (wrong), "task": "GSM8K" | "MATH"} (HF peiyi9979/Math-Shepherd; Wang et al. 2024,
"Math-Shepherd: Verify and Reinforce LLMs Step-by-step without Human Annotations").

Reading follows TRL's conversion (huggingface/trl examples/datasets/math_shepherd.py): the k-th ки of the input
sits where the k-th +/- of the label is once each two-letter tag counts as one character; the text before the
first tag is the problem followed by step 1, split at "Step 1:" (or "step 1:", or else after the problem's
question mark). Text after the last tag, when there is any, is kept as a final unrated step. Other columns
("task") are kept and written back.

Writing: "problem Step 1: ... ки\\nStep 2: ... ки"; steps without a "Step k:" heading get one, neutral (0)
becomes -, and steps from the first unrated one on are written after the last tag, untagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from workbench.core.errors import InputError
from workbench.core.steps import BAD, GOOD, StepwiseRecord
from workbench.formats.common import Progress, Row, require_text, write_jsonl
from workbench.formats.step_common import extra_columns, extras, labelled_prefix, read_step_records

NAME = "math-shepherd"
KNOWN = ("input", "label")
TAG = "ки"
_FIRST_STEP = re.compile(r"step\s*1\s*:", re.IGNORECASE)
_HEADING = re.compile(r"step\s*\d+\s*[:.]", re.IGNORECASE)


def _split_first_step(head: str, line: int, path: str) -> tuple[str, str]:
    """(problem, step 1) of the text before the first tag."""
    match = _FIRST_STEP.search(head)
    if match is not None:
        return head[:match.start()].strip(), head[match.start():].strip()
    cut = head.rfind("?")
    if cut >= 0 and head[cut + 1:].strip():
        return head[:cut + 1].strip(), head[cut + 1:].strip()
    raise InputError("cannot tell where step 1 starts: the text before the first ки must be the problem "
                     "followed by 'Step 1: ...'", path=path, line=line)


def parse_row(row: Row, line: int, path: str) -> list[StepwiseRecord]:
    text = require_text(row, "input", line, path)
    label = require_text(row, "label", line, path)
    positions = [m.start() for m in re.finditer(TAG, text)]
    if not positions:
        raise InputError(f"'input' has no step tags ({TAG}): each step must end with {TAG}", path=path, line=line)
    ratings: list[int | None] = []
    for k, pos in enumerate(positions):
        at = pos - k  # each earlier two-letter tag is one character in the label
        mark = label[at] if at < len(label) else ""
        if mark not in ("+", "-"):
            raise InputError(f"'label' has {mark or 'nothing'!r} where step tag {k + 1} of 'input' is (character "
                             f"{at + 1}): 'label' must be 'input' with every {TAG} replaced by + or -",
                             path=path, line=line)
        ratings.append(GOOD if mark == "+" else BAD)
    bounds = [*positions, len(text)]
    problem, first = _split_first_step(text[:positions[0]], line, path)
    if not problem:
        raise InputError("the problem is empty: the text before 'Step 1:' must be the problem", path=path, line=line)
    steps = [first] + [text[a + len(TAG):b].strip() for a, b in zip(bounds, bounds[1:])]
    if not steps[-1]:
        steps.pop()  # nothing after the last tag
    else:
        ratings.append(None)  # text after the last tag: a step nobody rated
    for i, step in enumerate(steps, start=1):
        if not step:
            raise InputError(f"step {i} is empty (two {TAG} tags with nothing between them)", path=path, line=line)
    return [StepwiseRecord(prompt=problem, steps=tuple(steps), ratings=tuple(ratings), meta=extras(row, KNOWN))]


def read(path: str | Path, progress: Progress | None = None) -> list[StepwiseRecord]:
    return read_step_records(path, parse_row, progress)


def _numbered(steps: list[str], start: int) -> list[str]:
    return [s if _HEADING.match(s) else f"Step {start + i}: {s}" for i, s in enumerate(steps)]


def to_row(record: StepwiseRecord) -> Row | None:
    """The Math-Shepherd row of a record (None when its first step is unrated: nothing to write)."""
    rated, ratings = labelled_prefix(record)
    if not rated:
        return None
    for text in (record.prompt, *record.steps):
        if TAG in text:
            raise InputError(f"a step or prompt contains {TAG}, Math-Shepherd's step tag, so the file could not be "
                             "read back: export this data as trl-stepwise instead")
    tagged = _numbered(rated, 1)
    rest = "\n".join(_numbered(list(record.steps[len(rated):]), len(rated) + 1))
    marks = ["+" if r == GOOD else "-" for r in ratings]
    tail = f"\n{rest}" if rest else ""
    row: Row = {"input": f"{record.prompt} " + "\n".join(f"{s} {TAG}" for s in tagged) + tail,
                "label": f"{record.prompt} " + "\n".join(f"{s} {m}" for s, m in zip(tagged, marks)) + tail}
    row.update(extra_columns(record, KNOWN))
    return row


def _rows(records: Iterable[StepwiseRecord]) -> Iterator[Row]:
    for record in records:
        row = to_row(record)
        if row is not None:
            yield row


def write(records: Iterable[StepwiseRecord], path: str | Path) -> int:
    return write_jsonl(_rows(records), path)


def looks_like(row: Row) -> bool:
    return "input" in row and isinstance(row.get("label"), str)
