"""The synthetic arithmetic task: deterministic, correct intermediate results, errors where they are said to be,
and labels that agree with the answer checker."""

from __future__ import annotations

import re

import pytest

from workbench.core.answer_check import check_answer, extract_answer
from workbench.core.arith_task import generate_problems, make_problem
from workbench.core.steps import BAD, GOOD, first_error

_CALC = re.compile(r"so (\d+) ([*+-]) (\d+) = (\d+)\.$")


def _calc(step: str) -> tuple[int, str, int, int]:
    m = _CALC.search(step)
    assert m, step
    return int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))


def _eval(x: int, op: str, y: int) -> int:
    return {"*": x * y, "+": x + y, "-": x - y}[op]


def test_deterministic_per_seed_and_index() -> None:
    a = generate_problems(30, seed=7)
    assert a == generate_problems(30, seed=7)
    assert generate_problems(10, seed=7) == a[:10]  # problem i does not depend on how many are asked for
    assert a != generate_problems(30, seed=8)
    assert make_problem("7:3") == a[3]


def test_steps_counts_and_error_rate() -> None:
    probs = generate_problems(400, seed=1, error_rate=0.3, min_ops=2, max_ops=5)
    assert {len(p.steps) - 1 for p in probs} == {2, 3, 4, 5}  # 2-5 computation steps + the answer step
    rate = sum(p.first_error >= 0 for p in probs) / len(probs)
    assert 0.24 < rate < 0.36
    assert all(p.first_error == -1 for p in generate_problems(50, seed=1, error_rate=0.0))
    assert all(p.first_error >= 0 for p in generate_problems(50, seed=1, error_rate=1.0))
    with pytest.raises(ValueError):
        make_problem("x", min_ops=1)


def test_intermediate_results_and_injected_error() -> None:
    probs = generate_problems(300, seed=2)
    # every error position occurs, the closing answer step included
    assert {p.first_error for p in probs} >= {-1, 0, 1, 2, 3}
    assert any(p.first_error == len(p.steps) - 1 for p in probs)
    for p in probs:
        *calc, closing = p.steps
        previous = None
        for k, step in enumerate(calc):
            x, op, y, z = _calc(step)
            assert step.startswith(f"Step {k + 1}: ")
            assert z == p.values[k]
            if previous is not None:
                assert x == previous  # each step continues from the value written before it
            named = int(re.findall(r"\d+", step.split(", so ")[0])[-1])  # "He buys 5 more" -> 5
            slip, copy = _eval(x, op, y) != z, y != named
            assert (slip or copy) is (k == p.first_error)  # wrong exactly at the stated step (consistent elsewhere)
            assert slip is (k == p.first_error and p.error_kind == "slip")
            assert copy is (k == p.first_error and p.error_kind == "copy")
            assert (p.values[k] == p.true_values[k]) is (p.first_error < 0 or k < p.first_error)
            assert z >= 0
            previous = z
        stated = int(extract_answer(closing))
        assert (stated == p.values[-1]) is (p.first_error != len(p.steps) - 1)
        assert p.reference_answer == str(p.true_values[-1])


def test_error_kinds() -> None:
    probs = generate_problems(200, seed=4)
    assert {p.error_kind for p in probs} == {"", "slip", "copy"}
    assert all((p.error_kind == "") is (p.first_error < 0) for p in probs)
    assert {p.error_kind for p in generate_problems(100, seed=4, error_kinds=("copy",))} == {"", "copy"}
    with pytest.raises(ValueError):
        make_problem("x", error_kinds=("typo",))


def test_labels_are_first_error_style_and_agree_with_the_checker() -> None:
    for p in generate_problems(200, seed=3):
        rec = p.record()
        assert first_error(list(rec.ratings)) == p.first_error
        if p.first_error >= 0:
            assert rec.ratings == (GOOD,) * p.first_error + (BAD,) * (len(p.steps) - p.first_error)
        else:
            assert set(rec.ratings) == {GOOD}
        assert p.labels == [r == GOOD for r in rec.ratings]
        assert check_answer(p.solution, rec.reference_answer) is (p.first_error < 0)
        assert check_answer(p.solution, rec.reference_answer) is all(p.labels)
        row = p.trl_row()
        assert row["completions"] == list(p.steps) and row["labels"] == p.labels and row["prompt"] == p.prompt


def test_example_text() -> None:
    p = make_problem("0:0", error_rate=0.0)
    assert p.prompt.endswith("have now?")
    assert p.steps[0].startswith("Step 1: ") and " boxes of " in p.steps[0]
    assert p.steps[-1] == f"The answer is {p.reference_answer}."
