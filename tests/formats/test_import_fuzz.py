"""Fuzzing the four import formats end to end (issue #12): a fixed corpus of known-bad lines through the CLI, and
hypothesis-made rows through the same read + import path. Every invalid input is refused with an InputError that
names the file and the line; nothing else escapes (0 tracebacks); a refused import leaves the project byte for byte
as it was. Valid edge cases (BOM, CRLF, a 50 MB line, duplicates) import."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.core.errors import InputError, WorkbenchError
from workbench.formats import read_dataset
from workbench.store.db import Project, create_project, open_project
from workbench.store.imports import import_records

VALID = {
    "trl": {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5"},
    "ultrafeedback": {"instruction": "What is 2+2?", "completions": [
        {"response": "4", "annotations": {"helpfulness": {"Rating": "5"}}},
        {"response": "5", "annotations": {"helpfulness": {"Rating": "1"}}}]},
    "hh-rlhf": {"chosen": "\n\nHuman: What is 2+2?\n\nAssistant: 4",
                "rejected": "\n\nHuman: What is 2+2?\n\nAssistant: 5"},
    "kto": {"prompt": "What is 2+2?", "completion": "4", "label": True},
}
FORMAT_NAMES = list(VALID)

# Lines no format accepts, each a different way JSON Lines go wrong.
BAD_LINES = [
    "not json at all", "{\"prompt\": ", "[1, 2, 3]", "null", "42", "\"a string\"", "{}",
    "{\"prompt\": " + "1" * 5000 + "}",  # Python's int-digits limit: ValueError, not JSONDecodeError
    "[" * 100_000,  # RecursionError in the decoder
    "{\"a\": " + "[" * 100_000 + "]" * 100_000 + "}",
    "{\"prompt\": \"\\ud800\", \"chosen\": \"\\udfff\", \"rejected\": \"x\", \"instruction\": \"\\ud800\"}",
    "{\"prompt\": \"p\", \"chosen\": \"\\ud83d\", \"rejected\": \"b\", \"completion\": \"\\ud83d\", \"label\": true}",
    "{\"prompt\": 1, \"chosen\": [1], \"rejected\": {\"x\": 2}}",
    "{\"prompt\": \"p\", \"chosen\": \"\", \"rejected\": \"\"}",
    "{\"prompt\": \"p\", \"chosen\": [{\"role\": 1}], \"rejected\": \"b\"}",
    "{\"instruction\": \"p\", \"completions\": 5}",
    "{\"instruction\": \"p\", \"completions\": [{\"response\": \"a\", \"annotations\": {\"h\": [1]}}]}",
    "{\"prompt\": \"p\", \"completion\": \"c\", \"label\": \"yes\"}",
    "{\"chosen\": \"Human: hi\", \"rejected\": \"Human: hi\"}",
]
BAD_BYTES = [b"\xff\xfe\x00garbage", b"{\"prompt\": \"\xc3\x28\"}", b"\x00\x00\x00\x00"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "p.sqlite"
    create_project(path).close()
    return path


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@pytest.mark.parametrize("bad", range(len(BAD_LINES) + len(BAD_BYTES)))
def test_fixed_corpus_is_refused_by_line_through_the_cli(project_file, tmp_path, capsys, fmt, bad):
    from workbench.__main__ import main

    raw = BAD_LINES[bad].encode() if bad < len(BAD_LINES) else BAD_BYTES[bad - len(BAD_LINES)]
    data = _write(tmp_path / "bad.jsonl", [json.dumps(VALID[fmt]).encode(), raw])
    before = sha(project_file)
    code = main(["import", str(project_file), str(data), "--format", fmt, "--objective", "helpfulness"])
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert err.startswith(f"workbench: {data}:2: "), err
    assert sha(project_file) == before
    assert not Path(f"{project_file}-wal").exists()


def _import(project: Project, path: Path, fmt: str | None) -> int:
    """The CLI's path (import_cmd.run) without the printing: read and check everything, then one transaction."""
    records = read_dataset(path, fmt)
    with project.session() as s:
        report = import_records(s, records, default_objective="helpfulness", source=path.name)
    return report.pairs_added + report.unpaired_added + len(report.duplicates)


def _check_refusal(exc: WorkbenchError, path: Path) -> None:
    assert isinstance(exc, InputError), f"{type(exc).__name__}: {exc}"
    assert exc.path == str(path)
    assert exc.line >= 1 or "holds no records" in str(exc) or "cannot tell the dataset format" in str(exc)


# Any JSON value, including what Python's decoder chokes on: lone surrogates, huge numbers, deep nesting.
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=True),
                    st.text(max_size=20), st.characters(categories=["Cs"]).map(lambda c: "ab" + c),
                    st.sampled_from(["", " ", "N/A", "5", "1e400", "\n\nAssistant:", "\n\nHuman: x\n\nAssistant:"]))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4),
    st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", 1]), "content": inner}),
             max_size=3)), max_leaves=12)


@st.composite
def mutated_line(draw, fmt: str) -> bytes:
    row = json.loads(json.dumps(VALID[fmt]))
    kind = draw(st.sampled_from(["replace", "delete", "add", "nested", "raw", "surrogate"]))
    keys = list(row)
    if kind == "surrogate":  # text that JSON allows and UTF-8 cannot hold, in a field that passes every check
        key = draw(st.sampled_from([k for k in keys if isinstance(row[k], str)] or keys))
        row[key] = f"{row[key]} {draw(st.characters(categories=['Cs']))}"
    elif kind == "replace":
        row[draw(st.sampled_from(keys))] = draw(JSON_VALUES)
    elif kind == "delete":
        del row[draw(st.sampled_from(keys))]
    elif kind == "add":
        row[draw(st.text(max_size=12))] = draw(JSON_VALUES)
    elif kind == "nested" and fmt == "ultrafeedback":
        completion = row["completions"][draw(st.integers(0, 1))]
        target = draw(st.sampled_from(["response", "annotations", "rating", "aspect"]))
        if target == "rating":
            completion["annotations"]["helpfulness"]["Rating"] = draw(JSON_VALUES)
        elif target == "aspect":
            completion["annotations"][draw(st.text(max_size=8))] = {"Rating": draw(JSON_VALUES)}
        else:
            completion[target] = draw(JSON_VALUES)
    elif kind == "raw":
        return draw(st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b))
    return json.dumps(row).encode()  # ensure_ascii: lone surrogates become \udXXX escapes, as in real files


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_hypothesis_rows_are_imported_or_refused_by_line(project_file, tmp_path_factory, fmt):
    folder = tmp_path_factory.mktemp(f"hyp-{fmt}")
    project = open_project(project_file)

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(st.data(), min_size=1, max_size=3), st.booleans())
    def check(lines_data, name_the_format):
        lines = [json.dumps(VALID[fmt]).encode()] + [d.draw(mutated_line(fmt)) for d in lines_data]
        path = _write(folder / "data.jsonl", lines)
        project.close()  # sha of the file alone: no WAL holds anything back
        before = sha(project_file)
        try:
            _import(project, path, fmt if name_the_format else None)
        except WorkbenchError as exc:
            _check_refusal(exc, path)
            project.close()
            assert sha(project_file) == before

    try:
        check()
    finally:
        project.close()


def test_valid_edge_cases_import(tmp_path):
    """BOM, CRLF line ends, a 50 MB line, and duplicates (reported, not refused), in every format."""
    project = create_project(tmp_path / "p.sqlite")
    try:
        for fmt, row in VALID.items():
            line = json.dumps(row).encode()
            bom = _write(tmp_path / f"{fmt}-bom.jsonl", [b"\xef\xbb\xbf" + line])
            assert _import(project, bom, fmt) == 1 + (fmt == "ultrafeedback") * 0
            crlf = tmp_path / f"{fmt}-crlf.jsonl"
            other = json.dumps(row).replace("2+2", "3+3").encode()
            crlf.write_bytes(line.replace(b"2+2", b"4+4") + b"\r\n" + other + b"\r\n")
            assert _import(project, crlf, fmt) == 2
            dups = _write(tmp_path / f"{fmt}-dups.jsonl", [line, line])
            assert _import(project, dups, fmt) == 2  # both already there: 2 duplicates reported
        big = "x" * (50 * 1024 * 1024)
        path = _write(tmp_path / "big.jsonl", [json.dumps({"prompt": "big", "chosen": big, "rejected": "y"}).encode()])
        assert path.stat().st_size > 50 * 1024 * 1024
        records = read_dataset(path, "trl")
        assert len(records) == 1 and len(records[0].chosen) == len(big)
        with project.session() as s:
            assert import_records(s, records, default_objective="helpfulness", source="big").pairs_added == 1
    finally:
        project.close()
