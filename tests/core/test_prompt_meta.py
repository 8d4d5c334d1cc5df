import pytest

from workbench.core.errors import InputError
from workbench.core.prompt_meta import prompt_text, read_prompt_meta, with_prompt_meta, write_prompt_meta
from workbench.core.scorers import answer_correct, length_tokens


def test_answer_correct_gets_the_prompts_reference_answer_from_the_table():
    plain = answer_correct()
    with pytest.raises(InputError, match="reference answer"):
        plain("What is 2+3?", "The answer is 5.")
    scorer = with_prompt_meta(plain, {"What is 2+3?": {"reference_answer": "5"}})
    assert scorer("What is 2+3?", "2 + 3 = 5. The answer is 5.") == 1.0
    assert scorer("What is 2+3?", "The answer is 6.") == 0.0
    assert scorer("What is 2+3?", "The answer is 6.", {"reference_answer": "6"}) == 1.0  # the caller's meta wins
    assert scorer.name == "answer_correct" and scorer.direction == "maximize"
    with pytest.raises(InputError, match="reference answer"):
        scorer("Another prompt", "The answer is 5.")


def test_table_round_trip_and_the_key_rule(tmp_path):
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+3?"}]
    assert prompt_text(chat) == "Be brief.\nWhat is 2+3?"
    assert prompt_text("x") == "x"
    path = tmp_path / "prompt_meta.json"
    assert read_prompt_meta(path) == {}
    write_prompt_meta(path, {prompt_text(chat): {"reference_answer": "5"}})
    assert read_prompt_meta(path) == {"Be brief.\nWhat is 2+3?": {"reference_answer": "5"}}
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match="prepare the run again"):
        read_prompt_meta(path)
    s = length_tokens()
    assert with_prompt_meta(s, {}) is s
