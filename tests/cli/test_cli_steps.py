"""Step-labelled data on the command line (issue #17): `synth-arith` -> `import` -> `label-steps --auto` ->
`export`, each step format imported and exported back unchanged, and readable refusals."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli.cli_testing import count, sha256, write_jsonl
from tests.formats.test_step_formats import PROCESSBENCH_ROW, SHEPHERD_ROW, TRL_ROW, prm800k_row
from workbench.__main__ import main
from workbench.store.annotators import import_annotator_ids
from workbench.store.db import open_project


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


@pytest.fixture
def project(tmp_path: Path, capsys) -> Path:
    path = tmp_path / "p.sqlite"
    assert run(capsys, "init", str(path))[0] == 0
    return path


def _labels_by(project: Path, annotator: str) -> dict[tuple[int, int], int]:
    con = sqlite3.connect(project)
    try:
        rows = con.execute("SELECT step.response_id, step.idx, step_label.rating FROM step_label "
                           "JOIN step ON step.id = step_label.step_id JOIN annotator ON annotator.id = "
                           "step_label.annotator_id WHERE annotator.name = ? AND step_label.superseded_at IS NULL",
                           (annotator,)).fetchall()
    finally:
        con.close()
    return {(r, i): rating for r, i, rating in rows}


def test_synthetic_data_imports_and_the_checker_agrees_with_its_labels(project, tmp_path, capsys) -> None:
    data = tmp_path / "arith.jsonl"
    code, out, err = run(capsys, "synth-arith", "--n", "120", "--errors", "0.3", "--seed", "3", "--out", str(data))
    assert code == 0, err
    rows = [json.loads(x) for x in data.read_text().splitlines()]
    wrong = sum(r["first_error"] >= 0 for r in rows)
    steps = sum(len(r["completions"]) for r in rows)
    assert out == f"wrote 120 problems ({steps} steps; {wrong} with an injected error) to {data} as trl-stepwise"
    assert 20 <= wrong <= 55  # 30 % of 120, seeded
    assert all(r["labels"] == [i < r["first_error"] or r["first_error"] < 0 for i in range(len(r["labels"]))]
               for r in rows)

    code, out, err = run(capsys, "import", str(project), str(data))
    assert (code, out) == (0, f"imported 120 solutions ({steps} steps), {steps} step labels, objective: "
                              "helpfulness"), err
    code, out, err = run(capsys, "label-steps", str(project), "--auto")
    assert (code, out) == (0, f"checked 120 solutions ({120 - wrong} with the right final answer): {steps} steps "
                              f"rated by auto:checker, {steps} labels written, objective: helpfulness"), err
    truth, checker = _labels_by(project, "dataset"), _labels_by(project, "auto:checker")
    assert len(truth) == len(checker) == steps and checker == truth  # every step, as the generator labelled it
    again = run(capsys, "label-steps", str(project), "--auto")[1]
    assert ", 0 labels written," in again  # nothing changed: nothing written
    code, out, err = run(capsys, "stats", str(project))  # found in use: step labels were counted nowhere
    assert code == 0, err
    lines = out.splitlines()
    assert lines[2].split() == ["objective", "labelled", "pairs", "labels", "coverage", "step", "ratings", "rated",
                                "responses"]
    assert lines[3].split() == ["helpfulness", "0", "0", "0.0%", str(2 * steps), "120"]  # dataset + checker
    assert [line.split() for line in lines[-2:]] == [["dataset", "0", str(steps)], ["auto:checker", "0", str(steps)]]
    opened = open_project(project)
    try:
        with opened.session() as s:  # machine labels are never human labels
            ids = import_annotator_ids(s)
    finally:
        opened.close()
    con = sqlite3.connect(project)
    names = dict(con.execute("SELECT id, name FROM annotator").fetchall())
    con.close()
    assert {names[i] for i in ids} >= {"dataset", "auto:checker"}

    out_file = tmp_path / "out.jsonl"
    code, out, err = run(capsys, "export", str(project), "--objective", "helpfulness", "--format", "trl-stepwise",
                         "--out", str(out_file))
    assert code == 0 and out.startswith("exported 120 step-labelled solutions"), err
    assert [json.loads(x) for x in out_file.read_text().splitlines()] == rows


def test_answer_only_prompts_get_their_last_step_labelled(project, tmp_path, capsys) -> None:
    rows = [{"prompt": "What is 2 + 3?", "completions": ["2 + 3 = 5", "The answer is 5."], "labels": [True, True],
             "reference_answer": "5"},
            {"prompt": "What is 2 * 3?", "completions": ["2 * 3 = 5", "The answer is 5."], "labels": [False, False],
             "reference_answer": "6"},
            {"prompt": "Name a colour.", "completions": ["Blue."], "labels": [True]}]
    assert run(capsys, "import", str(project), str(write_jsonl(tmp_path / "s.jsonl", rows)))[0] == 0
    code, out, err = run(capsys, "label-steps", str(project), "--auto", "--objective", "correctness")
    assert out == ("checked 2 solutions (1 with the right final answer): 2 steps rated by auto:checker, 2 labels "
                   "written; 1 split responses have no reference answer, objective: correctness"), err
    assert sorted(_labels_by(project, "auto:checker").values()) == [-1, 1]


@pytest.mark.parametrize(("fmt", "row"), [("trl-stepwise", TRL_ROW), ("prm800k", prm800k_row()),
                                          ("math-shepherd", SHEPHERD_ROW), ("processbench", PROCESSBENCH_ROW)])
def test_each_format_goes_into_the_project_and_comes_back_the_same(project, tmp_path, capsys, fmt, row) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [row])
    code, out, err = run(capsys, "import", str(project), str(src))  # detected, no --format
    assert code == 0 and out.startswith("imported 1 solution ("), err
    dest = tmp_path / "out.jsonl"
    code, out, err = run(capsys, "export", str(project), "--objective", "helpfulness", "--format", fmt, "--out",
                         str(dest))
    assert code == 0, err
    assert json.loads(dest.read_text()) == row


def test_refusals_are_one_readable_line_and_leave_the_project_alone(project, tmp_path, capsys) -> None:
    before = sha256(project)
    bad = write_jsonl(tmp_path / "bad.jsonl", [TRL_ROW, {**TRL_ROW, "labels": [True]}])
    code, _out, err = run(capsys, "import", str(project), str(bad))
    assert code == 1 and err == (f"workbench: {bad}:2: 2 steps in 'completions' but 1 labels: give one label per "
                                 "step")
    empty = write_jsonl(tmp_path / "empty.jsonl", [prm800k_row(steps=[], finish_reason="bad_problem")])
    code, _out, err = run(capsys, "import", str(project), str(empty))
    assert code == 1 and "holds no step-labelled solutions" in err
    code, _out, err = run(capsys, "export", str(project), "--objective", "nope", "--format", "prm800k", "--out",
                          str(tmp_path / "x.jsonl"))
    assert code == 1 and "no objective named 'nope'" in err and "Traceback" not in err
    assert sha256(project) == before and count(project, "step") == 0
    code, _out, err = run(capsys, "label-steps", str(project), "--auto")
    assert code == 1 and "no response is split into steps" in err
    code, _out, err = run(capsys, "synth-arith", "--n", "0", "--out", str(tmp_path / "a.jsonl"))
    assert code == 1 and "--n must be at least 1" in err


def test_annotator_option_names_whose_labels_a_file_holds(project, tmp_path, capsys) -> None:
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}])
    steps = write_jsonl(tmp_path / "steps.jsonl", [TRL_ROW])
    assert run(capsys, "import", str(project), str(pairs), "--annotator", "hh-team")[0] == 0
    assert run(capsys, "import", str(project), str(steps), "--annotator", "prm-team")[0] == 0
    con = sqlite3.connect(project)
    try:
        label_by = con.execute("SELECT annotator.name FROM label JOIN annotator ON annotator.id = "
                               "label.annotator_id").fetchall()
    finally:
        con.close()
    assert label_by == [("hh-team",)] and set(_labels_by(project, "prm-team").values()) == {1}
    opened = open_project(project)
    try:
        with opened.session() as s:
            ids = import_annotator_ids(s)
    finally:
        opened.close()
    assert len(ids) == 2  # both are imports, neither counts as a person
