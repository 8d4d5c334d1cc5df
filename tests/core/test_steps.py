import pytest

from workbench.core.steps import (BAD, GOOD, NEUTRAL, StepSplit, StepSplitError, StepwiseRecord, first_error,
                                  ratings_from_first_error, ratings_to_bools, split_steps)


def texts(text, split):
    return [s.text for s in split_steps(text, split)]


def test_line_split_drops_blank_lines_and_keeps_spans():
    text = "a = 2\n\n  b = a + 3  \nanswer 5"
    steps = split_steps(text, StepSplit("line"))
    assert [s.text for s in steps] == ["a = 2", "b = a + 3", "answer 5"]
    assert [text[s.start:s.end] for s in steps] == ["a = 2", "b = a + 3", "answer 5"]
    assert [s.index for s in steps] == [0, 1, 2]


def test_paragraph_split():
    assert texts("one\nstill one\n\ntwo\n \nthree", StepSplit("paragraph")) == ["one\nstill one", "two", "three"]


def test_step_k_split_keeps_a_preamble():
    text = "Let us see.\nStep 1: 2+3=5\nmore of step 1\nstep 2: 5*2=10\n**Step 3** The answer is 10"
    assert texts(text, StepSplit("step_k")) == ["Let us see.", "Step 1: 2+3=5\nmore of step 1", "step 2: 5*2=10",
                                                 "**Step 3** The answer is 10"]


def test_regex_split_and_its_errors():
    assert texts("x ки y ки z", StepSplit("regex", r"(?<=ки)")) == ["x ки", "y ки", "z"]
    with pytest.raises(StepSplitError, match="not valid"):
        split_steps("x", StepSplit("regex", "("))
    with pytest.raises(StepSplitError, match="enter a regular expression"):
        split_steps("x", StepSplit("regex", ""))


def test_rating_conversions():
    assert ratings_to_bools([GOOD, NEUTRAL, BAD, None]) == [True, False, False, None]
    assert ratings_to_bools([NEUTRAL], neutral_is_good=True) == [True]
    assert first_error([GOOD, NEUTRAL, BAD, BAD]) == 2
    assert first_error([GOOD, None]) == -1
    assert ratings_from_first_error(4, 1) == [GOOD, BAD, None, None]
    assert ratings_from_first_error(2, -1) == [GOOD, GOOD]
    with pytest.raises(ValueError):
        ratings_from_first_error(2, 2)


def test_record_checks_its_ratings():
    StepwiseRecord("p", ("a", "b"), (GOOD, None))
    with pytest.raises(ValueError, match="2 steps but 1 ratings"):
        StepwiseRecord("p", ("a", "b"), (GOOD,))
    with pytest.raises(ValueError, match=r"\+1, 0 or -1"):
        StepwiseRecord("p", ("a",), (2,))
