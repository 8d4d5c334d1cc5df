"""Steps of a response (DESIGN.md §7): how a response is split into steps, and the record a step-labelled
solution travels in between formats, store, GUI and workers.

A step rating follows PRM800K: +1 good, 0 neutral (no progress), -1 bad. TRL's stepwise supervision has one
bool per step (True = correct); `ratings_to_bools` maps ratings to it (neutral counts as False by default, as in
TRL's own PRM800K conversion, or as True with `neutral_is_good`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

SplitMode = Literal["line", "step_k", "paragraph", "regex"]
SPLIT_MODES: tuple[str, ...] = ("line", "paragraph", "step_k", "regex")
SPLIT_MODE_LABELS = {
    "line": "one step per line",
    "paragraph": "one step per paragraph (blank line between steps)",
    "step_k": 'one step per "Step k" heading',
    "regex": "a regular expression that matches where a new step starts",
}

GOOD, NEUTRAL, BAD = 1, 0, -1
RATINGS = (GOOD, NEUTRAL, BAD)
RATING_NAMES = {GOOD: "good", NEUTRAL: "neutral", BAD: "bad"}

_STEP_K = re.compile(r"(?im)^[ \t]*(?:\*\*)?step[ \t]*\d+\b")


class StepSplitError(ValueError):
    """A split setting that cannot be used (bad regular expression, unknown mode)."""


@dataclass(frozen=True)
class StepSplit:
    """How responses are split into steps; `pattern` is used by mode "regex" only."""

    mode: SplitMode = "line"
    pattern: str = ""

    def describe(self) -> str:
        return SPLIT_MODE_LABELS[self.mode] + (f": {self.pattern}" if self.mode == "regex" else "")


@dataclass(frozen=True)
class Step:
    """One step: its text (stripped) and its [start, end) character span in the response."""

    index: int
    text: str
    start: int
    end: int


def _starts_to_steps(text: str, starts: list[int]) -> list[Step]:
    bounds = sorted(set([0, *starts]))
    spans = [(a, b) for a, b in zip(bounds, [*bounds[1:], len(text)], strict=True)]
    steps: list[Step] = []
    for a, b in spans:
        chunk = text[a:b]
        stripped = chunk.strip()
        if not stripped:
            continue
        lead = len(chunk) - len(chunk.lstrip())
        start = a + lead
        steps.append(Step(len(steps), stripped, start, start + len(stripped)))
    return steps


def split_steps(text: str, split: StepSplit = StepSplit()) -> list[Step]:
    """Split `text` into non-empty steps. Text before the first "Step k" heading (step_k) or before the first
    regex match (regex) is a step of its own when it is not blank. Raises StepSplitError on a bad setting."""
    if split.mode == "line":
        starts = [m.end() for m in re.finditer(r"\n", text)]
    elif split.mode == "paragraph":
        starts = [m.end() for m in re.finditer(r"\n[ \t]*\n", text)]
    elif split.mode == "step_k":
        starts = [m.start() for m in _STEP_K.finditer(text)]
    elif split.mode == "regex":
        if not split.pattern:
            raise StepSplitError("enter a regular expression that matches where each step starts")
        try:
            rx = re.compile(split.pattern, re.MULTILINE)
        except re.error as exc:
            raise StepSplitError(f"the regular expression {split.pattern!r} is not valid: {exc}") from None
        starts = [m.start() for m in rx.finditer(text) if m.end() > m.start() or m.start() > 0]
    else:
        raise StepSplitError(f"unknown split mode {split.mode!r}; use one of {', '.join(SPLIT_MODES)}")
    return _starts_to_steps(text, starts)


def ratings_to_bools(ratings: list[int | None], *, neutral_is_good: bool = False) -> list[bool | None]:
    """PRM800K ratings -> TRL stepwise labels (None stays None: an unlabelled step)."""
    out: list[bool | None] = []
    for r in ratings:
        out.append(None if r is None else (r == GOOD or (r == NEUTRAL and neutral_is_good)))
    return out


def first_error(ratings: list[int | None]) -> int:
    """ProcessBench's label: the 0-based index of the first bad step, -1 when no step is bad."""
    for i, r in enumerate(ratings):
        if r == BAD:
            return i
    return -1


def ratings_from_first_error(n_steps: int, index: int) -> list[int | None]:
    """ "First error here" as ratings: the steps before `index` good, the step at it bad, the steps after it
    unrated (None), as PRM800K phase 2 stops at the first error. index -1 = every step good."""
    if index < 0:
        return [GOOD] * n_steps
    if index >= n_steps:
        raise ValueError(f"step {index + 1} does not exist (the response has {n_steps} steps)")
    return [GOOD] * index + [BAD] + [None] * (n_steps - index - 1)


@dataclass(frozen=True)
class StepwiseRecord:
    """One step-labelled solution as formats read and write it (TRL stepwise supervision, PRM800K,
    Math-Shepherd): the prompt, its steps, one rating per step (None = unlabelled), and what is known of the
    answer. `meta` keeps source fields a format wants back on export (e.g. PRM800K's labeler)."""

    prompt: str
    steps: tuple[str, ...]
    ratings: tuple[int | None, ...]
    reference_answer: str = ""
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.steps) != len(self.ratings):
            raise ValueError(f"{len(self.steps)} steps but {len(self.ratings)} ratings")
        for r in self.ratings:
            if r is not None and r not in RATINGS:
                raise ValueError(f"a step rating must be +1, 0 or -1 (or missing), not {r!r}")
