"""Automatic step and outcome labels where the answer is known (issue #17): the answer checker as a labeller.

The rule (pure; store.auto_step_labels writes its result as the labels of CHECKER_ANNOTATOR):
- outcome: the solution's final answer (core.answer_check.check_answer on the steps joined) equals the reference;
- with known intermediate results (one per leading step: the synthetic arithmetic task knows them): step k is
  good when the number it ends on (its last number) equals result k and every earlier step is good; from the first
  wrong step on every step is bad (the prefix can no longer reach the right answer: Math-Shepherd's reading, and
  core.arith_task's labels);
- the last step is good exactly when the outcome is correct (and no earlier step is bad);
- with only a final answer, the last step alone is labelled: a right answer does not make the steps right, a wrong
  one makes the step that states it wrong;
- a step that no rule reaches stays unrated (None).

The annotator's name starts with core.rounds.AUTO_PREFIX, the one rule for "made by a machine", so these labels
never count as human labels (queue overlap, agreement, speed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from workbench.core.answer_check import check_answer, final_number, parse_number
from workbench.core.rounds import AUTO_PREFIX
from workbench.core.steps import BAD, GOOD

CHECKER_ANNOTATOR = AUTO_PREFIX + "checker"
# Where a record's meta keeps the known intermediate results: our synthetic files' column (formats keep unknown
# columns under meta["extra"]) and core.arith_task's own record meta.
INTERMEDIATE_KEYS = ("intermediate_results", "true_values")


@dataclass(frozen=True)
class AutoLabels:
    """The checker's verdict on one solution: the outcome and one rating (or None) per step."""

    outcome: bool
    ratings: tuple[int | None, ...]


def _as_fraction(value: Any) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(repr(value))
    if isinstance(value, str):
        return parse_number(value)
    return None


def intermediate_results(meta: Mapping[str, Any]) -> list[Fraction] | None:
    """The known intermediate results a record's meta carries (see INTERMEDIATE_KEYS), or None when it has none
    or they are not all numbers."""
    for where in (meta, meta.get("extra") if isinstance(meta.get("extra"), Mapping) else {}):
        for key in INTERMEDIATE_KEYS:
            values = where.get(key)
            if isinstance(values, list) and values:
                numbers = [_as_fraction(v) for v in values]
                return None if any(n is None for n in numbers) else numbers  # type: ignore[return-value]
    return None


def auto_labels(steps: Sequence[str], reference: str, intermediate: Sequence[Fraction] | None = None,
                joiner: str = "\n") -> AutoLabels:
    """The module docstring's rule for one solution (`reference` non-empty)."""
    if not steps:
        raise ValueError("a solution needs at least one step")
    outcome = check_answer(joiner.join(steps), reference)
    ratings: list[int | None] = [None] * len(steps)
    broken = False
    known = list(intermediate or [])[:len(steps) - 1]  # the last step states the answer: the outcome decides it
    for k, want in enumerate(known):
        broken = broken or final_number(steps[k]) != want
        ratings[k] = BAD if broken else GOOD
    for k in range(len(known), len(steps) - 1):
        ratings[k] = BAD if broken else None  # no known result here: only a wrong prefix decides it
    ratings[-1] = BAD if (broken or not outcome) else GOOD
    return AutoLabels(outcome, tuple(ratings))
