"""Step labels as the store returns them (issue #17), and what is computed from them without I/O.

A step label is one annotator's PRM800K rating (+1 good, 0 neutral, -1 bad; core.steps) of one step of a response,
for one objective. `rating` None is a cleared rating (the steps after a "first error here" mark): an active label
that says "not rated". As for pair labels, no row is ever deleted: `superseded` marks history.

Agreement between annotators on step ratings uses workbench.core.agreement: a unit is (step, objective) and the
value a rating; the same three coefficients as for pairs (Cohen κ, Fleiss κ, Krippendorff α).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from workbench.core import agreement as ag
from workbench.core.steps import BAD, GOOD, NEUTRAL, RATINGS, Step, StepSplit, ratings_from_first_error

IMPORTED = "imported"  # split mode of steps that a file gave (no rule re-creates them from the text)


@dataclass(frozen=True)
class StepLabel:
    id: int
    step_id: int
    response_id: int
    step_index: int
    objective_id: int
    annotator_id: int
    rating: int | None  # +1 / 0 / -1, None = cleared
    first_error: bool = False  # made by the "first error here" key (the bad step it marks)
    created_at: datetime | None = None
    superseded: bool = False


@dataclass(frozen=True)
class ResponseSteps:
    """A response's stored split: the mode ("line", "paragraph", "step_k", "regex" or "imported"), the regex
    pattern of mode "regex", and the steps."""

    response_id: int
    mode: str
    pattern: str
    steps: tuple[Step, ...]

    def split(self) -> StepSplit | None:
        """The core.steps setting that made these steps (None for imported steps)."""
        return None if self.mode == IMPORTED else StepSplit(self.mode, self.pattern)  # type: ignore[arg-type]

    def describe(self) -> str:
        split = self.split()
        return "the steps as imported" if split is None else split.describe()


def check_rating(rating: int | None) -> None:
    if rating is not None and rating not in RATINGS:
        raise ValueError(f"a step rating is +1 (good), 0 (neutral) or -1 (bad), not {rating!r}")


def first_error_ratings(current: list[int | None], index: int) -> list[int | None]:
    """The ratings after "first error here" at step `index` (-1: no error) given the annotator's current ones:
    core.steps.ratings_from_first_error (before good, this one bad, after unrated), except that a step before it
    already rated neutral stays neutral (PRM800K lets neutral steps precede the first error); one rated bad
    becomes good, since the annotator now says the error comes later."""
    wanted = ratings_from_first_error(len(current), index)
    before = len(current) if index < 0 else index
    return [current[i] if i < before and current[i] == NEUTRAL else w for i, w in enumerate(wanted)]


def ratings_by_step(labels: Iterable[StepLabel], n_steps: int) -> list[int | None]:
    """One annotator's active labels of one response (one objective) as a rating per step index."""
    out: list[int | None] = [None] * n_steps
    for lab in labels:
        if not lab.superseded and 0 <= lab.step_index < n_steps:
            out[lab.step_index] = lab.rating
    return out


def is_complete(ratings: list[int | None], first_error_marked: bool) -> bool:
    """A response is done for an annotator when every step is rated, or a first error is marked (PRM800K phase 2
    stops there)."""
    return first_error_marked or (bool(ratings) and all(r is not None for r in ratings))


def step_reliability(labels: Iterable[StepLabel]) -> ag.ReliabilityData:
    """Active, rated step labels as Krippendorff's reliability matrix: units are (step_id, objective_id)."""
    return ag.reliability_from((lab.annotator_id, (lab.step_id, lab.objective_id), lab.rating) for lab in labels
                               if not lab.superseded and lab.rating is not None)


def step_agreement(labels: Iterable[StepLabel]) -> tuple[float, float, float]:
    """(Cohen κ, Fleiss κ, Krippendorff α) of step ratings (core.agreement.agreement_coefficients)."""
    return ag.agreement_coefficients(step_reliability(labels))


def first_error_reliability(labels: Iterable[StepLabel], steps_per_response: dict[int, int]) -> ag.ReliabilityData:
    """Where each annotator puts the first error of each response (ProcessBench's label: step index, -1 = none),
    from annotators whose labels of that response are complete; units are (response_id, objective_id)."""
    grouped: dict[tuple[int, int, int], list[StepLabel]] = {}
    for lab in labels:
        if not lab.superseded:
            grouped.setdefault((lab.annotator_id, lab.response_id, lab.objective_id), []).append(lab)
    triples = []
    for (annotator, response, objective), mine in grouped.items():
        n = steps_per_response.get(response, 0)
        ratings = ratings_by_step(mine, n)
        if not is_complete(ratings, any(lab.first_error for lab in mine)):
            continue
        first = next((i for i, r in enumerate(ratings) if r == BAD), -1)
        triples.append((annotator, (response, objective), first))
    return ag.reliability_from(triples)
