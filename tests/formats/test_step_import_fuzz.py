"""Fuzzing the step-labelled formats (issue #17) as tests/formats/test_import_fuzz.py does the pair formats: the same
corpus of known-bad lines (read directly and through `workbench import`, which leaves the project as it was), and
hypothesis-mutated rows (nested PRM800K fields too). Every input is either read or
refused with an InputError naming the file and line (0 tracebacks), and whatever is read survives write -> read
unchanged."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .test_import_fuzz import BAD_BYTES, BAD_LINES, JSON_VALUES, sha
from .test_step_formats import PROCESSBENCH_ROW, SHEPHERD_ROW, TRL_ROW, prm800k_row
from workbench.core.errors import InputError
from workbench.formats.step_registry import STEP_FORMATS, read_stepwise
from workbench.store.db import create_project

VALID = {"trl-stepwise": TRL_ROW, "prm800k": prm800k_row(), "math-shepherd": SHEPHERD_ROW,
         "processbench": PROCESSBENCH_ROW}
# Lines that are valid JSON objects of another format's shape, which each step format must refuse by line.
WRONG_SHAPE = [json.dumps(row) for row in VALID.values()]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "p.sqlite"
    create_project(path).close()
    return path


@pytest.mark.parametrize("fmt", list(VALID))
@pytest.mark.parametrize("bad", range(len(BAD_LINES) + len(BAD_BYTES) + len(WRONG_SHAPE)))
def test_fixed_corpus_is_refused_by_line_through_the_cli(project_file, tmp_path, capsys, fmt: str, bad: int) -> None:
    from workbench.__main__ import main

    corpus = [*(b.encode() for b in BAD_LINES), *BAD_BYTES, *(w.encode() for w in WRONG_SHAPE)]
    raw = corpus[bad]
    if raw == json.dumps(VALID[fmt]).encode():
        pytest.skip("the format's own valid row")
    path = _write(tmp_path / "bad.jsonl", [json.dumps(VALID[fmt]).encode(), raw])
    with pytest.raises(InputError) as info:
        read_stepwise(path, fmt)
    assert info.value.path == str(path) and info.value.line == 2, str(info.value)
    before = sha(project_file)
    code = main(["import", str(project_file), str(path), "--format", fmt, "--objective", "correctness"])
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert err.startswith(f"workbench: {path}:2: "), err
    assert sha(project_file) == before


def _nested_targets(row: object, trail: tuple = ()) -> list[tuple]:
    """Every path into the row (dict keys and list indexes), for mutations deep inside PRM800K's layout."""
    paths = [trail] if trail else []
    if isinstance(row, dict):
        for key, value in row.items():
            paths += _nested_targets(value, (*trail, key))
    elif isinstance(row, list):
        for i, value in enumerate(row):
            paths += _nested_targets(value, (*trail, i))
    return paths


@st.composite
def mutated_line(draw, fmt: str) -> bytes:
    row = copy.deepcopy(VALID[fmt])
    kind = draw(st.sampled_from(["replace", "delete", "add", "raw", "surrogate"]))
    if kind == "raw":
        return draw(st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b))
    trail = draw(st.sampled_from(_nested_targets(row)))
    parent = row
    for key in trail[:-1]:
        parent = parent[key]
    last = trail[-1]
    if kind == "replace":
        parent[last] = draw(JSON_VALUES)
    elif kind == "delete":
        del parent[last]
    elif kind == "add" and isinstance(parent, dict):
        parent[draw(st.text(max_size=12))] = draw(JSON_VALUES)
    elif kind == "surrogate" and isinstance(parent[last], str):
        parent[last] += " " + draw(st.characters(categories=["Cs"]))
    return json.dumps(row).encode()


@pytest.mark.parametrize("fmt", list(VALID))
def test_hypothesis_rows_are_read_or_refused_by_line_and_round_trip(tmp_path_factory, fmt: str) -> None:
    folder = tmp_path_factory.mktemp(f"hyp-{fmt}")

    @settings(max_examples=120, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(st.data(), min_size=1, max_size=3), st.booleans())
    def check(lines_data, name_the_format):
        lines = [json.dumps(VALID[fmt]).encode()] + [d.draw(mutated_line(fmt)) for d in lines_data]
        path = _write(folder / "data.jsonl", lines)
        try:
            records = read_stepwise(path, fmt if name_the_format else None)
        except InputError as exc:
            assert exc.path == str(path)
            assert exc.line >= 1 or "not a step-labelled file" in str(exc)
            return
        if not name_the_format:  # detected: a mutation may have made it another format's row
            return
        out = folder / "out.jsonl"
        try:
            STEP_FORMATS[fmt].write(records, out)
        except InputError:  # e.g. Math-Shepherd text holding its own tag: refused with a message, not a crash
            return
        assert STEP_FORMATS[fmt].read(out) == records

    check()


@pytest.mark.parametrize("fmt", list(VALID))
def test_hypothesis_rows_the_reader_accepts_import_or_are_refused_whole(project_file, tmp_path_factory, fmt) -> None:
    """What a reader accepts goes through store.step_records.import_stepwise (the CLI's call) without a crash; a
    refusal is an InputError and leaves the project file as it was."""
    from workbench.store.step_files import store_records
    from workbench.store.db import open_project

    folder = tmp_path_factory.mktemp(f"hyp-store-{fmt}")
    project = open_project(project_file)

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(st.data(), min_size=1, max_size=2))
    def check(lines_data):
        lines = [json.dumps(VALID[fmt]).encode()] + [d.draw(mutated_line(fmt)) for d in lines_data]
        path = _write(folder / "data.jsonl", lines)
        try:
            records = read_stepwise(path, fmt)
        except InputError:
            return
        project.close()
        before = sha(project_file)
        try:
            with project.session() as s:
                store_records(s, records, "correctness", None, "fuzz", str(path))
        except InputError as exc:
            assert exc.path == str(path)
            project.close()
            assert sha(project_file) == before

    try:
        check()
    finally:
        project.close()
