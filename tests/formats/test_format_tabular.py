"""Parquet files, `save_to_disk` folders and hub ids (issue #13) give the same records as the JSONL readers, with
the same all-or-nothing checks and errors naming the row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core.errors import InputError
from workbench.formats import read_dataset

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

TRL_ROWS = [{"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "objective": "math"},
            {"prompt": "Capital of France?", "chosen": "Paris", "rejected": "Rome", "objective": "facts"}]
# a Parquet column has one type: the chat-message form is its own file
TRL_CHAT_ROWS = [{"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "assistant", "content": "Hello!"}],
                  "rejected": [{"role": "assistant", "content": "Go away."}]}]
UF_ROWS = [{"instruction": "Name a colour.", "completions": [
    {"model": "m1", "response": "Blue", "annotations": {"helpfulness": {"Rating": "5", "Rationale": ""},
                                                         "honesty": {"Rating": "4", "Rationale": ""}}},
    {"model": "m2", "response": "Dog", "annotations": {"helpfulness": {"Rating": "1", "Rationale": ""},
                                                        "honesty": {"Rating": "2", "Rationale": ""}}}]}]
HH_ROWS = [{"chosen": "\n\nHuman: Hi\n\nAssistant: Hello", "rejected": "\n\nHuman: Hi\n\nAssistant: No"}]
KTO_ROWS = [{"prompt": "Hi", "completion": "Hello", "label": True},
            {"prompt": "Hi", "completion": "Go away", "label": False}]


def write_both(tmp_path: Path, rows: list[dict], name: str) -> tuple[Path, Path]:
    jsonl = tmp_path / f"{name}.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    parquet = tmp_path / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    return jsonl, parquet


@pytest.mark.parametrize("rows, fmt", [(TRL_ROWS, "trl"), (TRL_CHAT_ROWS, "trl"), (UF_ROWS, "ultrafeedback"), (HH_ROWS, "hh-rlhf"),
                                       (KTO_ROWS, "kto")])
def test_parquet_gives_the_jsonl_records(tmp_path, rows, fmt):
    jsonl, parquet = write_both(tmp_path, rows, fmt)
    expected = read_dataset(jsonl, fmt)
    assert read_dataset(parquet, fmt) == expected
    assert read_dataset(parquet) == expected  # format detected from the first row
    assert len(expected) >= 1


def test_a_bad_row_is_named_and_nothing_is_returned(tmp_path):
    rows = TRL_ROWS[:1] + [{"prompt": "q", "chosen": "", "rejected": "x"}, {"prompt": "q2", "chosen": "", "rejected": "y"}]
    _, parquet = write_both(tmp_path, rows, "bad")
    with pytest.raises(InputError) as err:
        read_dataset(parquet, "trl")
    assert err.value.line == 2 and str(err.value).startswith(f"{parquet}:2: ")
    assert "1 more problem, on row 3" in str(err.value)


def test_not_a_parquet_file_is_a_readable_error(tmp_path):
    bad = tmp_path / "x.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match="cannot read the Parquet file"):
        read_dataset(bad)


def test_save_to_disk_folder_gives_the_same_records(tmp_path):
    datasets = pytest.importorskip("datasets")
    jsonl, _ = write_both(tmp_path, KTO_ROWS, "kto")
    folder = tmp_path / "saved"
    datasets.Dataset.from_list(KTO_ROWS).save_to_disk(str(folder))
    assert read_dataset(folder) == read_dataset(jsonl, "kto")
    both = tmp_path / "dict"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(KTO_ROWS),
                          "test": datasets.Dataset.from_list(KTO_ROWS[:1])}).save_to_disk(str(both))
    assert read_dataset(both, "kto") == read_dataset(jsonl, "kto")  # the train split


def test_hub_source_goes_through_load_dataset(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    seen = {}

    def fake_load(name, split):
        seen.update(name=name, split=split)
        return datasets.Dataset.from_list(TRL_ROWS)

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    jsonl, _ = write_both(tmp_path, TRL_ROWS, "trl")
    assert read_dataset("hf:org/prefs:test", "trl") == read_dataset(jsonl, "trl")
    assert seen == {"name": "org/prefs", "split": "test"}
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: (_ for _ in ()).throw(
        ConnectionError("no network")))
    with pytest.raises(InputError, match="cannot load the dataset: no network"):
        read_dataset("hf:org/prefs")
