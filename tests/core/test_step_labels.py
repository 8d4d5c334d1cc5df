"""Agreement on step ratings and on first-error positions, against hand-computed values (issue #17)."""

from __future__ import annotations

import math

import pytest

from workbench.core import agreement as ag
from workbench.core.step_labels import (StepLabel, first_error_reliability, is_complete, ratings_by_step,
                                        step_agreement, step_reliability)

# step_id -> (response, index): responses 10 and 11 have two steps each
STEPS = {1: (10, 0), 2: (10, 1), 3: (11, 0), 4: (11, 1)}


def lab(i: int, annotator: int, step: int, rating: int | None, *, first_error: bool = False,
        superseded: bool = False, objective: int = 1) -> StepLabel:
    response, index = STEPS[step]
    return StepLabel(i, step, response, index, objective, annotator, rating, first_error, None, superseded)


def two_annotators() -> list[StepLabel]:
    a = [lab(i, 1, step, r) for i, (step, r) in enumerate(zip((1, 2, 3, 4), (1, 1, -1, 0)), start=1)]
    b = [lab(i, 2, step, r) for i, (step, r) in enumerate(zip((1, 2, 3, 4), (1, -1, -1, 0)), start=10)]
    return a + b


def test_step_agreement_hand_computed() -> None:
    labels = two_annotators()
    # a superseded label and a cleared one change nothing
    labels += [lab(30, 1, 2, -1, superseded=True), lab(31, 2, 4, None, superseded=True)]
    cohen, fleiss, alpha = step_agreement(labels)
    # p_o = 3/4, p_e = (2·1 + 1·2 + 1·1)/16 = 5/16 -> κ = (12/16 − 5/16)/(11/16) = 7/11
    assert cohen == pytest.approx(7 / 11)
    # P̄ = 3/4, p = (3/8, 3/8, 2/8) -> P̄_e = 22/64 -> κ = (48/64 − 22/64)/(42/64) = 13/21
    assert fleiss == pytest.approx(13 / 21)
    # n = 8, Σ n_c² = 9 + 9 + 4 -> D_e term 42; one disagreeing unit contributes 2 -> α = 1 − 7·2/42 = 2/3
    assert alpha == pytest.approx(2 / 3)
    data = step_reliability(labels)
    assert data.units == [(1, 1), (2, 1), (3, 1), (4, 1)] and data.annotators == [1, 2]
    assert data.rows == [[1, 1, -1, 0], [1, -1, -1, 0]]


def test_first_error_agreement_hand_computed() -> None:
    labels = two_annotators()
    # annotator 3: a first-error mark on step 1 of response 10 completes it; response 11 half done: left out
    labels += [lab(40, 3, 1, -1, first_error=True), lab(41, 3, 2, None), lab(42, 3, 3, -1)]
    data = first_error_reliability(labels, {10: 2, 11: 2})
    assert data.units == [(10, 1), (11, 1)]
    assert data.rows == [[-1, 0], [1, 0], [0, None]]
    # n = 5 values: −1, 1, 0 (unit 10), 0, 0 (unit 11); Σ n_c² = 1 + 1 + 9 -> 25 − 11 = 14;
    # unit 10: (9 − 3)/2 = 3, unit 11: 0 -> α = 1 − 4·3/14 = 1/7
    assert ag.krippendorff_alpha_nominal(data.rows) == pytest.approx(1 / 7)


def test_ratings_by_step_and_completeness() -> None:
    labels = [lab(1, 1, 3, -1), lab(2, 1, 4, 0, superseded=True)]
    assert ratings_by_step(labels, 2) == [-1, None]
    assert not is_complete([-1, None], False) and is_complete([-1, None], True)
    assert is_complete([1, 0], False) and not is_complete([], False)
    assert math.isnan(step_agreement([lab(1, 1, 1, 1)])[2])  # one annotator: undefined


def test_first_error_ratings_keep_neutral_steps_before_it() -> None:
    from workbench.core.step_labels import first_error_ratings

    assert first_error_ratings([None, 0, -1, 1, 1], 3) == [1, 0, 1, -1, None]
    assert first_error_ratings([0, None], -1) == [0, 1]
    assert first_error_ratings([None, None], 0) == [-1, None]
    with pytest.raises(ValueError, match="step 3 does not exist"):
        first_error_ratings([None, None], 2)
