"""Format names and detection from the first record."""

from __future__ import annotations

from pathlib import Path

import pytest

from .formats_testing import write_rows
from workbench.core.errors import InputError
from workbench.formats import FORMATS, detect_format, get_format, read_dataset

DETECTED = [
    ({"prompt": "p", "chosen": "a", "rejected": "b"}, "trl"),
    ({"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
      "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}]}, "trl"),
    ({"chosen": "The sky is blue.", "rejected": "The sky is green."}, "trl"),
    ({"prompt": "p", "chosen": "a", "rejected": "b", "score_chosen": 5.0, "score_rejected": 1.0}, "trl"),
    ({"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b"}, "hh-rlhf"),
    ({"instruction": "q", "completions": []}, "ultrafeedback"),
    ({"prompt": "p", "completion": "c", "label": True}, "kto"),
]


def test_registry_names() -> None:
    assert list(FORMATS) == ["trl", "ultrafeedback", "hh-rlhf", "kto"]
    with pytest.raises(InputError, match="unknown format 'csv': use one of trl, ultrafeedback, hh-rlhf, kto"):
        get_format("csv")


@pytest.mark.parametrize(("row", "name"), DETECTED)
def test_detects_from_first_record(tmp_path: Path, row: dict, name: str) -> None:
    assert detect_format(write_rows(tmp_path / "d.jsonl", ["", row, {"anything": 1}])).name == name


def test_undetectable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="its fields: answer, question\\): pass --format") as info:
        detect_format(write_rows(tmp_path / "q.jsonl", [{"question": "q", "answer": "a"}]))
    assert info.value.line == 1
    with pytest.raises(InputError, match="holds no records"):
        detect_format(write_rows(tmp_path / "empty.jsonl", ["", ""]))
    with pytest.raises(InputError, match="not valid JSON") as info:
        detect_format(write_rows(tmp_path / "junk.jsonl", ["", "{oops"]))
    assert info.value.line == 2


def test_read_dataset_detects_or_obeys_the_name(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "hh.jsonl", [{"chosen": "\n\nHuman: q\n\nAssistant: Sure, a",
                                              "rejected": "\n\nHuman: q\n\nAssistant: Sure, b"}])
    assert read_dataset(path)[0].prompt == "\n\nHuman: q\n\nAssistant:"
    assert read_dataset(path)[0].chosen == " Sure, a"
    trl_record = read_dataset(path, "trl")[0]  # TRL's character-level split of the implicit prompt
    assert (trl_record.prompt, trl_record.chosen) == ("\n\nHuman: q\n\nAssistant: Sure,", " a")
