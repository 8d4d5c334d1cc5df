"""TRL preference rows: strings, conversations, implicit prompts, extra columns, bad fields by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from .formats_testing import input_error, write_rows
from workbench.core.entities import PreferenceRecord, UnpairedRecord
from workbench.core.errors import InputError
from workbench.formats import trl, write_trl
from workbench.formats.trl import extract_prompt

USER = {"role": "user", "content": "What colour is the sky?"}
GOOD = {"role": "assistant", "content": "Blue."}
BAD = {"role": "assistant", "content": "Green."}


def test_standard_rows_with_extra_columns_round_trip(tmp_path: Path) -> None:
    rows = [{"prompt": "2+2?", "chosen": "4", "rejected": "5", "score_chosen": 9.5, "score_rejected": 2,
             "prompt_id": "abc"},
            {"prompt": "", "chosen": "hello", "rejected": "bye", "objective": "honesty"}]
    records = trl.read(write_rows(tmp_path / "in.jsonl", rows))
    assert records == [
        PreferenceRecord(prompt="2+2?", chosen="4", rejected="5", line=1,
                         extra={"score_chosen": 9.5, "score_rejected": 2, "prompt_id": "abc"}),
        PreferenceRecord(prompt="", chosen="hello", rejected="bye", objective="honesty", line=2)]
    out = tmp_path / "out.jsonl"
    assert write_trl(records, out) == 2
    assert out.read_text().splitlines()[0] == ('{"prompt": "2+2?", "chosen": "4", "rejected": "5", '
                                               '"score_chosen": 9.5, "score_rejected": 2, "prompt_id": "abc"}')
    assert trl.read(out) == records


def test_conversational_rows_round_trip(tmp_path: Path) -> None:
    row = {"prompt": [USER], "chosen": [GOOD], "rejected": [BAD]}
    records = trl.read(write_rows(tmp_path / "chat.jsonl", [row]))
    assert (records[0].prompt, records[0].chosen, records[0].rejected) == ([USER], [GOOD], [BAD])
    write_trl(records, tmp_path / "out.jsonl")
    assert trl.read(tmp_path / "out.jsonl") == records


def test_implicit_prompt_conversations_split_like_trl(tmp_path: Path) -> None:
    row = {"chosen": [USER, GOOD], "rejected": [USER, BAD], "score_chosen": 8.0}
    (rec,) = trl.read(write_rows(tmp_path / "implicit.jsonl", [row]))
    assert (rec.prompt, rec.chosen, rec.rejected, rec.extra) == ([USER], [GOOD], [BAD], {"score_chosen": 8.0})
    write_trl([rec], tmp_path / "out.jsonl")  # written back in the explicit form, read back the same
    assert trl.read(tmp_path / "out.jsonl") == [rec]


def test_implicit_prompt_text_keeps_the_space_with_the_response() -> None:
    # TRL's extract_prompt example: "The sky is" + " blue." / " green."
    assert extract_prompt("The sky is blue.", "The sky is green.") == ("The sky is", " blue.", " green.")
    assert extract_prompt("abc", "xyz") == ("", "abc", "xyz")


def test_binarized_prompt_string_with_full_conversations(tmp_path: Path) -> None:
    # HuggingFaceH4/ultrafeedback_binarized: a prompt string next to [user, assistant] conversations
    row = {"prompt": USER["content"], "chosen": [USER, GOOD], "rejected": [USER, BAD], "score_chosen": 5.0,
           "score_rejected": 2.0, "prompt_id": "x1"}
    (rec,) = trl.read(write_rows(tmp_path / "h4.jsonl", [row]))
    assert (rec.prompt, rec.chosen, rec.rejected) == ([USER], [GOOD], [BAD])
    assert rec.extra == {"score_chosen": 5.0, "score_rejected": 2.0, "prompt_id": "x1"}
    (only_answers,) = trl.read(write_rows(tmp_path / "h4b.jsonl", [{"prompt": "hi", "chosen": [GOOD],
                                                                    "rejected": [BAD]}]))
    assert only_answers.prompt == [{"role": "user", "content": "hi"}]


def test_one_megabyte_response_is_accepted(tmp_path: Path) -> None:
    big = "x" * 1_000_000 + " end"
    (rec,) = trl.read(write_rows(tmp_path / "big.jsonl", [{"prompt": "p", "chosen": big, "rejected": "short"}]))
    assert len(rec.chosen) == 1_000_004 and rec.chosen.endswith(" end")


@pytest.mark.parametrize(("row", "message"), [
    ({"prompt": "p", "rejected": "b"}, "the field 'chosen' is missing"),
    ({"prompt": "p", "chosen": "a"}, "the field 'rejected' is missing"),
    ({"prompt": "p", "chosen": 3, "rejected": "b"}, "'chosen' must be a string or a list of chat messages, not a number"),
    ({"prompt": None, "chosen": "a", "rejected": "b"}, "'prompt' must be a string or a list of chat messages, not null"),
    ({"prompt": "p", "chosen": "", "rejected": "b"}, "'chosen' is empty"),
    ({"prompt": "p", "chosen": "a", "rejected": "   "}, "'rejected' is empty"),
    ({"prompt": "p", "chosen": "same", "rejected": "same"}, "'chosen' and 'rejected' are the same"),
    ({"prompt": "p", "chosen": [GOOD], "rejected": "b"}, "must both be strings or both be message lists"),
    ({"prompt": [USER], "chosen": "a", "rejected": "b"}, "use one form for all three"),
    ({"prompt": "p", "chosen": [{"role": "assistant"}], "rejected": [BAD]}, "message 1 of 'chosen' needs a string 'content'"),
    ({"prompt": "p", "chosen": ["hi"], "rejected": [BAD]}, "message 1 of 'chosen' must be an object"),
    ({"prompt": "p", "chosen": [], "rejected": [BAD]}, "'chosen' is an empty list of messages"),
    ({"chosen": "abc", "rejected": "abcdef"}, "'chosen' is empty once the prompt it shares"),
    ({"prompt": "p", "chosen": "a", "rejected": "b", "objective": 7}, "'objective' must be the name of an objective"),
])
def test_bad_rows_name_their_line(tmp_path: Path, row: dict, message: str) -> None:
    ok = {"prompt": "p", "chosen": "a", "rejected": "b"}
    err = input_error(trl.read, write_rows(tmp_path / "bad.jsonl", [ok, ok, row]))
    assert err.line == 3
    assert message in str(err)
    assert str(err).startswith(f"{tmp_path / 'bad.jsonl'}:3: ")


def test_unpaired_records_cannot_be_written_as_pairs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="export it as 'kto'"):
        write_trl([UnpairedRecord(prompt="p", completion="c", label=True)], tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()
