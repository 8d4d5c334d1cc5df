"""The answer checker on a table of cases: extraction priority, normalisation, exact numeric comparison."""

from __future__ import annotations

from fractions import Fraction

import pytest

from workbench.core.answer_check import (
    answer_number,
    answers_match,
    check_answer,
    extract_answer,
    last_boxed,
    normalize_answer,
    parse_number,
    reference_answer,
)

EXTRACT = [
    ("so the answer is \\boxed{42}.", "42"),
    ("\\boxed{1} first, then \\boxed{\\frac{3}{4}}", "\\frac{3}{4}"),  # last boxed, nested braces
    ("$\\boxed{\\{1, 2\\} \\cup \\{x^{2}\\}}$", "\\{1, 2\\} \\cup \\{x^{2}\\}"),
    ("thus \\boxed 5$ is it", "5"),
    ("\\fbox{7}", "7"),
    ("The answer is \\boxed{9}. The answer is 8", "9"),  # boxed beats "the answer is"
    ("Step 1: 3 * 4 = 12.\nThe answer is 12.", "12"),  # without the full stop
    ("The answer is 1.5.", "1.5"),
    ("The answer is: 18", "18"),  # Math-Shepherd
    ("Final Answer: The final answer is $5$. I hope it is correct.", "$5$"),  # Minerva
    ("The answer is 3 apples\nand 4 pears", "3 apples"),  # up to the end of its line
    ("Natalia sold 48/2 = 24 clips.\n#### 72", "72"),  # GSM8K
    ("We get 10.\n\n# Answer\n\n17", "17"),  # PRM800K
    ("It drops to -3 then rises to 1,234.50 dollars.", "1,234.50"),  # last number
    ("v2 then .5", ".5"),
    ("no digits here", None),
    ("", None),
    ("The answer is", None),  # an empty explicit answer
    ("\\boxed{unclosed", None),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACT)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


MATCH = [
    ("72", "72", True),
    ("72.", "72", True),
    ("$1,234$", "1234", True),  # thousands separators, dollars
    ("1,234.50", "1234.5", True),
    ("0.75", "3/4", True),  # exact as fractions
    ("\\frac{3}{4}", "0.75", True),
    ("\\dfrac{3}{4}", "3/4", True),
    ("-5", "-5", True),
    ("-5", "5", False),  # sign matters
    ("0.333", "1/3", False),  # exact, no rounding
    ("7 apples", "7", True),  # the number of an answer with units
    ("x = 5", "5", True),
    ("50\\%", "50", True),
    ("10", "1,0", False),  # "1,0" is not a number: string comparison
    ("Paris", "paris", True),  # case-insensitive exact match
    ("\\text{Paris}", "Paris", True),
    ("\\left( 1, 2 \\right)", "(1,2)", True),
    ("Pari", "Paris", False),
    (None, "1", False),
    ("1e3", "1000", False),  # scientific notation is not read
]


@pytest.mark.parametrize(("given", "reference", "expected"), MATCH)
def test_answers_match(given: str | None, reference: str, expected: bool) -> None:
    assert answers_match(given, reference) is expected


CHECK = [
    ("Step 1: 3 * 4 = 12.\nStep 2: 12 + 5 = 17.\nThe answer is 17.", "17", True),
    ("Step 1: 3 * 4 = 12.\nStep 2: 12 + 5 = 18.\nThe answer is 18.", "17", False),
    ("She has 5 left. #### 5", "Natalia ... = 5\n#### 5", True),  # reference is a GSM8K solution
    ("so \\boxed{\\frac{1}{2}}", "\\boxed{0.5}", True),
    ("7, not 8", "7", False),  # only the final number counts
    ("I don't know", "7", False),
    ("The answer is 0.1", 0.1, True),  # floats compared by their written value
    ("The answer is 7.00", 7, True),
]


@pytest.mark.parametrize(("response", "reference", "expected"), CHECK)
def test_check_answer(response: str, reference: str | float, expected: bool) -> None:
    assert check_answer(response, reference) is expected


def test_helpers() -> None:
    assert last_boxed("a \\boxed{b{c}d} e") == "b{c}d"
    assert last_boxed("none") is None
    assert parse_number("1,234") == 1234 and parse_number("+2") == 2 and parse_number("1/0") is None
    assert parse_number("12,34") is None and parse_number("3 apples") is None
    assert answer_number("1.5/2 cups") == Fraction(3, 4)
    assert normalize_answer(" $\\text{ Yes }$. ") == "yes"
    assert reference_answer("work...\n#### 1,000") == "1,000" and reference_answer("Paris") == "Paris"


def test_scorers_use_the_same_checker() -> None:
    """core/scorers.py's numeric_answer_match reads the answer with extract_answer: a boxed or stated answer wins
    over a later number (before: the last number always did)."""
    from workbench.core.scorers import final_number, numeric_answer_match

    s = numeric_answer_match()
    assert s("q", "\\boxed{7}, checked with 8 cases", {"answer": "7"}) == 1.0
    assert s("q", "The answer is 1,234. (3 ways)", {"answer": 1234}) == 1.0
    assert s("q", "\\boxed{\\frac{3}{4}}", {"answer": "0.75"}) == 1.0
    assert final_number("a 3/4 b") == Fraction(3, 4)
