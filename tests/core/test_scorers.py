"""Scorers: built-ins on known texts, the registry, and user scorer files with errors mapped to file:line."""

from __future__ import annotations

import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from workbench.core.errors import InputError, WorkbenchError
from workbench.core.scorers import (
    Scorer,
    ScorerRegistry,
    answer_correct,
    final_number,
    keyword_count,
    length_tokens,
    load_user_scorers,
    numeric_answer_match,
    regex_match,
    score_all,
    scorer_registry,
)


def write(tmp_path: Path, body: str, name: str = "scorers.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


def test_length_tokens_whitespace_and_tokenizers() -> None:
    assert length_tokens()("p", "  one two\tthree\nfour ") == 4.0
    assert length_tokens()("p", "") == 0.0
    assert length_tokens(list)("p", "abc d") == 5.0  # any callable returning a sequence: characters here

    class HFLike:  # transformers tokenizers: encode(text, add_special_tokens=...)
        def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
            return [0] * (len(text.split()) * 2 + (1 if add_special_tokens else 0))

    assert length_tokens(HFLike())("p", "a b c") == 6.0  # special tokens not counted


def test_length_tokens_with_a_real_tokenizers_tokenizer() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    # Whitespace pre-tokenizer splits punctuation: hello , world ! -> 4 tokens (Encoding.ids).
    assert length_tokens(tok)("p", "hello, world!") == 4.0
    assert length_tokens(tok).direction == "minimize"


def test_regex_match() -> None:
    s = regex_match(r"\[\d+\]")
    assert s("p", "as shown in [12].") == 1.0
    assert s("p", "no citation") == 0.0
    assert regex_match("yes", flags=2)("p", "YES") == 1.0  # re.IGNORECASE == 2


def test_keyword_count_whole_words_and_phrases() -> None:
    s = keyword_count(["please", "thank you"])
    assert s("p", "Please help. Thank you, thank you! pleased") == 3.0
    assert keyword_count(["New", "New York"])("p", "New York is new") == 2.0  # phrase wins, then "new"
    assert keyword_count(["Cat"], case_sensitive=True)("p", "cat Cat") == 1.0
    with pytest.raises(ValueError):
        keyword_count([])


@pytest.mark.parametrize(("text", "expected"), [
    ("so the total is 1,234.50 dollars.", Fraction(2469, 2)),
    ("#### 72", Fraction(72)),
    ("It drops to -3 then 4/8", Fraction(1, 2)),
    ("v2 then .5", Fraction(1, 2)),
    ("3 apples and 1.5/2", Fraction(3, 4)),
    ("3 apples, 1/0 pears", Fraction(3)),
    ("no digits here", None),
])
def test_final_number(text: str, expected: Fraction | None) -> None:
    assert final_number(text) == expected


def test_numeric_answer_match() -> None:
    s = numeric_answer_match()
    assert s("q", "She pays 3 + 4 = 7 dollars. The answer is 7.", {"answer": "#### 7"}) == 1.0
    assert s("q", "The answer is 7.00", {"answer": 7}) == 1.0
    assert s("q", "0.1", {"answer": 0.1}) == 1.0  # floats compared by their written value
    assert s("q", "7, not 8", {"answer": "7"}) == 0.0  # only the final number counts
    assert s("q", "I don't know", {"answer": "7"}) == 0.0
    with pytest.raises(InputError, match="under 'answer'"):
        s("q", "7", {})
    assert s("q", "The answer is Seven.", {"answer": "seven"}) == 1.0  # no number: exact match (one checker)
    assert numeric_answer_match("gold")("q", "12", {"gold": "12"}) == 1.0


@pytest.mark.parametrize(("response", "meta", "score"), [
    ("3 * 4 = 12, 12 + 5 = 17. The answer is 17.", {"reference_answer": "17"}, 1.0),
    ("3 * 4 = 12, 12 + 5 = 17. The answer is 16.", {"reference_answer": "17"}, 0.0),
    ("So $x = \\boxed{\\frac{3}{4}}$.", {"reference_answer": "0.75"}, 1.0),
    ("Natalia sold 48 + 24 = 72 clips.", {"answer": "48/2 = 24 ... 48 + 24 = 72\n#### 72"}, 1.0),  # GSM8K column
    ("The answer is Paris.", {"reference_answer": "paris"}, 1.0),
    ("The answer is 1,234.5", {"reference_answer": 1234.5}, 1.0),
    ("The answer is 17.", {"reference_answer": "17", "answer": "18"}, 1.0),  # reference_answer first
    ("I am not sure.", {"answer": "4"}, 0.0),
])
def test_answer_correct_uses_the_answer_checker(response: str, meta: dict, score: float) -> None:
    assert answer_correct()("q", response, meta) == score


def test_answer_correct_without_a_reference_says_what_to_import() -> None:
    with pytest.raises(InputError, match="answer_correct needs the prompt's reference answer .*'reference_answer' "
                                         "or 'answer'"):
        answer_correct()("q", "7", {"answer": " ", "other": 7})


def test_score_all_returns_array() -> None:
    out = score_all(length_tokens(), [("p", "a b", None), ("p", "a", {})])
    assert isinstance(out, np.ndarray) and out.tolist() == [2.0, 1.0]


def test_registry_lookup_and_duplicates() -> None:
    reg = scorer_registry()
    assert reg.names() == ["answer_correct", "length_tokens"]
    assert reg.get("length_tokens")("p", "x y") == 2.0
    assert "numeric_answer_match" in reg and reg.get("numeric_answer_match").name == "answer_correct"  # old name
    with pytest.raises(WorkbenchError, match="no scorer named 'nope' .*length_tokens"):
        reg.get("nope")
    with pytest.raises(InputError, match="already used by a built-in"):
        reg.register(Scorer("length_tokens", lambda p, r, m: 0.0))
    assert len(ScorerRegistry([regex_match("x", name="has_x")])) == 1


def test_load_user_scorers_by_name_decorator_and_instances(tmp_path: Path) -> None:
    path = write(tmp_path, '''
        from os.path import join as score_joined  # imported: ignored
        from workbench.core.scorers import regex_match, scorer

        def score_politeness(prompt, response):
            """counts please"""
            return response.lower().count("please")

        @scorer(name="brevity", direction="minimize")
        def words(prompt, response, meta):
            return len(response.split()) + meta.get("bonus", 0)

        @scorer
        def echo_len(prompt, response, meta=None):
            return len(prompt)

        score_cites = regex_match(r"\\[\\d+\\]")

        def helper(x):  # neither named score_* nor decorated: ignored
            return x
    ''')
    scorers = {s.name: s for s in load_user_scorers(path)}
    assert sorted(scorers) == ["brevity", "cites", "echo_len", "politeness"]
    assert scorers["politeness"]("p", "Please, please") == 2.0
    assert scorers["politeness"].description == "counts please"
    assert scorers["politeness"].line == 4 and scorers["politeness"].source == str(path.resolve())
    assert scorers["brevity"]("p", "a b c", {"bonus": 1}) == 4.0 and scorers["brevity"].direction == "minimize"
    assert scorers["echo_len"]("abcd", "x") == 4.0
    assert scorers["cites"]("p", "see [3]") == 1.0
    reg = scorer_registry(path)
    assert "brevity" in reg and "length_tokens" in reg
    assert scorer_registry(tmp_path / "missing.py").names() == ["answer_correct", "length_tokens"]


def test_user_file_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '''
        def score_a(prompt, response):
            return 1

        def score_b(prompt, response)
            return 2
    ''')
    with pytest.raises(InputError) as info:
        load_user_scorers(path)
    assert info.value.line == 4 and info.value.path == str(path.resolve())
    assert str(info.value).startswith(f"{path.resolve()}:4: syntax error")


def test_user_file_import_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, '''
        import math

        LIMIT = math.sqrt(-1)
    ''')
    with pytest.raises(InputError, match=r":3: ValueError: math domain error \(while loading the file\)"):
        load_user_scorers(path)


def test_user_scorer_runtime_error_and_bad_return(tmp_path: Path) -> None:
    path = write(tmp_path, '''
        def score_ratio(prompt, response):
            words = len(response.split())
            return len(prompt) / words

        def score_label(prompt, response):
            return "good"
    ''')
    scorers = {s.name: s for s in load_user_scorers(path)}
    assert scorers["ratio"]("abcd", "a b") == 2.0
    with pytest.raises(InputError) as info:
        scorers["ratio"]("abcd", "")
    assert info.value.line == 3 and "scorer 'ratio' failed: ZeroDivisionError" in str(info.value)
    with pytest.raises(InputError, match=r":5: scorer 'label' returned 'good' \(str\); return a number"):
        scorers["label"]("p", "r")


def test_user_file_bad_signature_empty_and_missing(tmp_path: Path) -> None:
    bad = write(tmp_path, '''
        def score_one(response):
            return 1
    ''')
    with pytest.raises(InputError, match=r":1: scorer 'score_one' must take \(prompt, response\)"):
        load_user_scorers(bad)
    empty = write(tmp_path, "X = 1\n", name="empty.py")
    with pytest.raises(InputError, match="no scorers found"):
        load_user_scorers(empty)
    with pytest.raises(InputError, match="not found"):
        load_user_scorers(tmp_path / "nope.py")


def test_duplicate_user_and_builtin_name(tmp_path: Path) -> None:
    path = write(tmp_path, '''
        def score_length_tokens(prompt, response):
            return 0
    ''')
    with pytest.raises(InputError, match=r":1: scorer name 'length_tokens' is already used by a built-in"):
        scorer_registry(path)


def test_reloading_an_edited_file_gives_the_new_code(tmp_path: Path) -> None:
    path = write(tmp_path, "def score_v(prompt, response):\n    return 1\n")
    assert load_user_scorers(path)[0]("p", "r") == 1.0
    path.write_text("def score_v(prompt, response):\n    return 2\n", encoding="utf-8")
    assert load_user_scorers(path)[0]("p", "r") == 2.0
