"""The answer checker as a step/outcome labeller (core.auto_step_labels): a table of cases, and agreement with the
synthetic task's ground-truth labels (every step of 300 problems, 40 % with an injected error)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from workbench.core.arith_task import generate_problems
from workbench.core.auto_step_labels import CHECKER_ANNOTATOR, auto_labels, intermediate_results
from workbench.core.rounds import is_automatic
from workbench.core.steps import BAD, GOOD

STEPS = ("Step 1: 3 boxes of 4, so 3 * 4 = 12.", "Step 2: buys 5, so 12 + 5 = 17.", "The answer is 17.")


@pytest.mark.parametrize(("steps", "reference", "known", "outcome", "ratings"), [
    (STEPS, "17", [12, 17], True, (GOOD, GOOD, GOOD)),
    (STEPS, "17", None, True, (None, None, GOOD)),  # only the answer known: only the last step is labelled
    (STEPS, "18", None, False, (None, None, BAD)),
    (STEPS, "18", [12, 18], False, (GOOD, BAD, BAD)),  # step 2 ends on 17, not 18: bad from there on
    (STEPS, "17", [11, 17], True, (BAD, BAD, BAD)),  # an early wrong step spoils the prefix despite the answer
    (STEPS[:2] + ("The answer is 16.",), "17", [12, 17], False, (GOOD, GOOD, BAD)),
    (STEPS, "17", [12], True, (GOOD, None, GOOD)),  # a step with no known result stays unrated
    (STEPS, "17", [11], True, (BAD, BAD, BAD)),  # ... unless an earlier step is already wrong
    (("So x = \\boxed{\\frac{3}{4}}",), "0.75", None, True, (GOOD,)),
    (("I give up.",), "5", None, False, (BAD,)),  # no answer stated: wrong
    (STEPS, "#### 17", None, True, (None, None, GOOD)),  # a GSM8K reference solution is reduced to its answer
])
def test_rule_table(steps, reference, known, outcome, ratings) -> None:
    known = None if known is None else [Fraction(k) for k in known]
    labels = auto_labels(steps, reference, known)
    assert (labels.outcome, labels.ratings) == (outcome, ratings)


def test_intermediate_results_from_meta() -> None:
    assert intermediate_results({"extra": {"intermediate_results": [18, "10", 1.5]}}) == [18, 10, Fraction(3, 2)]
    assert intermediate_results({"true_values": [4, 5]}) == [4, 5]  # core.arith_task's own record meta
    assert intermediate_results({"extra": {"intermediate_results": [1, "x"]}}) is None
    assert intermediate_results({"extra": {"intermediate_results": [True]}}) is None
    assert intermediate_results({}) is None and intermediate_results({"extra": 3}) is None


def test_checker_is_a_machine_annotator() -> None:
    assert CHECKER_ANNOTATOR == "auto:checker" and is_automatic(CHECKER_ANNOTATOR)


def test_agrees_with_the_synthetic_ground_truth_on_every_step() -> None:
    problems = generate_problems(300, seed=7, error_rate=0.4)
    agree = total = correct_outcomes = 0
    for p in problems:
        labels = auto_labels(p.steps, p.reference_answer, [Fraction(v) for v in p.true_values])
        assert None not in labels.ratings
        agree += sum(a == b for a, b in zip(labels.ratings, p.ratings, strict=True))
        total += len(p.steps)
        correct_outcomes += labels.outcome == (p.first_error < 0)
    assert total > 900 and agree == total and correct_outcomes == 300
    with_answer_only = [auto_labels(p.steps, p.reference_answer) for p in problems]
    assert [lab.ratings[-1] for lab in with_answer_only] == [GOOD if p.first_error < 0 else BAD for p in problems]
    assert all(r is None for lab in with_answer_only for r in lab.ratings[:-1])
