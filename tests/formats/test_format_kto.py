"""KTO unpaired rows: prompt/completion/label; pairs written as KTO are unpaired like TRL does."""

from __future__ import annotations

from pathlib import Path

import pytest

from .formats_testing import input_error, write_rows
from workbench.core.entities import PreferenceRecord, UnpairedRecord
from workbench.formats import kto


def test_read_and_round_trip(tmp_path: Path) -> None:
    rows = [{"prompt": "p", "completion": "good", "label": True, "rater": "amy"},
            {"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "go"}],
             "label": False, "objective": "harmlessness"}]
    records = kto.read(write_rows(tmp_path / "kto.jsonl", rows))
    assert records == [
        UnpairedRecord(prompt="p", completion="good", label=True, extra={"rater": "amy"}, line=1),
        UnpairedRecord(prompt=rows[1]["prompt"], completion=rows[1]["completion"], label=False,
                       objective="harmlessness", line=2)]
    assert kto.write(records, tmp_path / "out.jsonl") == 2
    assert kto.read(tmp_path / "out.jsonl") == records


def test_pairs_are_unpaired_on_write(tmp_path: Path) -> None:
    pair = PreferenceRecord(prompt="p", chosen="yes", rejected="no", objective="o", extra={"pair_id": 4})
    assert kto.write([pair], tmp_path / "out.jsonl") == 2
    assert [(r.completion, r.label, r.objective, r.extra) for r in kto.read(tmp_path / "out.jsonl")] == [
        ("yes", True, "o", {"pair_id": 4}), ("no", False, "o", {"pair_id": 4})]


@pytest.mark.parametrize(("row", "message"), [
    ({"prompt": "p", "completion": "c"}, "the field 'label' is missing"),
    ({"prompt": "p", "completion": "c", "label": 1}, "'label' must be true or false, not 1"),
    ({"prompt": "p", "completion": "c", "label": "true"}, "'label' must be true or false"),
    ({"prompt": "p", "completion": "", "label": True}, "'completion' is empty"),
    ({"completion": "c", "label": True}, "the field 'prompt' is missing"),
    ({"prompt": [{"role": "user", "content": "x"}], "completion": "c", "label": True}, "must both be strings"),
])
def test_bad_rows_name_their_line(tmp_path: Path, row: dict, message: str) -> None:
    ok = {"prompt": "p", "completion": "c", "label": True}
    err = input_error(kto.read, write_rows(tmp_path / "bad.jsonl", [ok, ok, ok, row]))
    assert err.line == 4 and message in str(err)
