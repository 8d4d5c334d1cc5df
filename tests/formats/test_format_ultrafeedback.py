"""UltraFeedback rows: one objective per aspect, pairs from differing ratings, N/A and ties give no pair."""

from __future__ import annotations

from pathlib import Path

import pytest

from .formats_testing import input_error, write_rows
from workbench.core.entities import PreferenceRecord
from workbench.core.errors import InputError
from workbench.formats import ultrafeedback


def completion(response: str, model: str, **ratings: object) -> dict:
    return {"response": response, "model": model, "principle": "helpfulness",
            "annotations": {aspect: {"Rating": value, "Rationale": "because"} for aspect, value in ratings.items()}}


ROW = {"instruction": "Name a prime.", "source": "evol_instruct", "models": ["m1", "m2", "m3"],
       "completions": [completion("2", "m1", helpfulness="5", honesty="4"),
                       completion("4", "m2", helpfulness="2", honesty="N/A"),
                       completion("3", "m3", helpfulness="5", honesty="2")]}


def test_pairs_per_aspect_follow_the_ratings(tmp_path: Path) -> None:
    records = ultrafeedback.read(write_rows(tmp_path / "uf.jsonl", [ROW]))
    got = [(r.objective, r.chosen, r.rejected, r.extra["score_chosen"], r.extra["score_rejected"]) for r in records]
    # helpfulness 5,2,5: (2>4), (3>4), the two 5s tie -> no pair; honesty 4,N/A,2: only (2>3)
    assert got == [("helpfulness", "2", "4", 5, 2), ("helpfulness", "3", "4", 5, 2), ("honesty", "2", "3", 4, 2)]
    first = records[0]
    assert first.prompt == "Name a prime." and first.line == 1
    assert first.extra == {"source": "evol_instruct", "models": ["m1", "m2", "m3"], "score_chosen": 5,
                           "score_rejected": 2, "chosen_index": 0, "rejected_index": 1,
                           "chosen_completion": {"model": "m1", "principle": "helpfulness"},
                           "rejected_completion": {"model": "m2", "principle": "helpfulness"}}


def test_round_trip(tmp_path: Path) -> None:
    second = {"instruction": "Say hi.", "completions": [completion("hi", "a", helpfulness="3.5"),
                                                        completion("yo", "b", helpfulness="4")]}
    records = ultrafeedback.read(write_rows(tmp_path / "uf.jsonl", [ROW, second]))
    assert [r.line for r in records] == [1, 1, 1, 2]
    assert (records[3].chosen, records[3].extra["score_rejected"]) == ("yo", 3.5)
    assert ultrafeedback.write(records, tmp_path / "out.jsonl") == 2
    assert ultrafeedback.read(tmp_path / "out.jsonl") == records


def test_all_equal_or_missing_ratings_give_no_pairs(tmp_path: Path) -> None:
    row = {"instruction": "x", "completions": [completion("a", "m", helpfulness="3", honesty="N/A"),
                                               completion("b", "m", helpfulness="3", honesty="5"),
                                               completion("a", "m", helpfulness="1")]}  # same text as the first
    records = ultrafeedback.read(write_rows(tmp_path / "uf.jsonl", [row]))
    assert [(r.chosen, r.rejected) for r in records] == [("b", "a")]  # helpfulness 3 vs 1 is "a" vs "a": no pair


def test_binarized_layout_is_read_as_trl(tmp_path: Path) -> None:
    row = {"prompt": "p", "chosen": "good", "rejected": "bad", "score_chosen": 8.0, "score_rejected": 3.0}
    assert ultrafeedback.read(write_rows(tmp_path / "bin.jsonl", [row])) == [
        PreferenceRecord(prompt="p", chosen="good", rejected="bad", line=1,
                         extra={"score_chosen": 8.0, "score_rejected": 3.0})]


@pytest.mark.parametrize(("row", "message"), [
    ({"instruction": "x"}, "neither 'completions' (UltraFeedback) nor 'chosen'/'rejected'"),
    ({"instruction": "x", "completions": {}}, "'completions' must be a list"),
    ({"completions": []}, "the field 'instruction' is missing"),
    ({"instruction": "x", "completions": [completion("a", "m", helpfulness="5"), {"response": "b"}]},
     "completion 2 needs 'annotations'"),
    ({"instruction": "x", "completions": [{"response": "", "annotations": {}}]}, "completion 1: 'response' is empty"),
    ({"instruction": "x", "completions": [completion("a", "m", helpfulness="five")]},
     "completion 1, aspect 'helpfulness': the rating 'five' is not a number"),
    ({"instruction": "x", "completions": [completion("a", "m", helpfulness=[5])]},
     "the rating must be a number or \"N/A\""),
])
def test_bad_rows_name_their_line(tmp_path: Path, row: dict, message: str) -> None:
    err = input_error(ultrafeedback.read, write_rows(tmp_path / "bad.jsonl", [ROW, row]))
    assert err.line == 2 and message in str(err)


def test_writing_pairs_without_ratings_is_refused(tmp_path: Path) -> None:
    plain = PreferenceRecord(prompt="p", chosen="a", rejected="b", objective="helpfulness")
    with pytest.raises(InputError, match="carry no ratings"):
        ultrafeedback.write([plain], tmp_path / "x.jsonl")
