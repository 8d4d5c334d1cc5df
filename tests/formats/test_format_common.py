"""The shared JSONL reader: exact line numbers and byte offsets, every problem found in one pass, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .formats_testing import input_error, write_rows
from workbench.core.errors import InputError
from workbench.formats import trl
from workbench.formats.common import iter_json_lines, write_jsonl


def test_non_utf8_names_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    good = json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}).encode()
    path.write_bytes(good + b"\n" + good + b"\n" + b'{"prompt": "caf\xe9", "chosen": "a", "rejected": "b"}\n')
    err = input_error(trl.read, path)
    assert err.line == 3 and err.path == str(path)
    assert "byte 16 of the line (0xe9) is not UTF-8" in str(err)
    assert str(err).startswith(f"{path}:3: ")


def test_invalid_json_and_non_object_lines(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "bad.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"},
                                               '{"prompt": "p", "chosen": ', "[1, 2]"])
    err = input_error(trl.read, path)
    assert err.line == 2 and "not valid JSON" in str(err)
    assert "(1 more problem, on line 3)" in str(err)
    lines = iter_json_lines(write_rows(tmp_path / "list.jsonl", ["[1, 2]"]))
    with pytest.raises(InputError, match="a JSON list where an object was expected") as info:
        next(lines)
    assert info.value.line == 1


def test_every_problem_is_counted_first_one_explained(tmp_path: Path) -> None:
    rows: list = [{"prompt": "p", "chosen": f"a{i}", "rejected": "b"} for i in range(30)]
    for i in (4, 9, 14, 19, 24, 25, 26, 27, 28, 29, 0, 1):
        rows[i] = {"prompt": "p", "chosen": "", "rejected": "b"}
    err = input_error(trl.read, write_rows(tmp_path / "many.jsonl", rows))
    assert err.line == 1 and "'chosen' is empty" in str(err)
    assert "(11 more problems, on lines 2, 5, 10, 15, 20, 25, 26, 27, 28, 29, ...)" in str(err)


def test_blank_lines_and_bom_are_skipped_line_numbers_kept(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    row = json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"})
    path.write_bytes(b"\xef\xbb\xbf" + row.encode() + b"\n\n   \n" + row.replace('"a"', '"c"').encode() + b"\n\n")
    assert [line for line, _ in iter_json_lines(path)] == [1, 4]
    assert [r.line for r in trl.read(path)] == [1, 4]


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    err = input_error(trl.read, tmp_path / "nope.jsonl")
    assert "cannot read the file" in str(err) and err.line == 0


def test_write_is_atomic_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")

    def rows():
        yield {"a": 1}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_jsonl(rows(), target)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    assert write_jsonl([{"x": "é"}], target) == 1
    assert target.read_text(encoding="utf-8") == '{"x": "é"}\n'
