"""A kind="prm" run's folder: run_dir/steps.jsonl in TRL stepwise format from the step labels (issue #17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core.errors import ProjectError, RunError
from workbench.core.run_config import RunConfig
from workbench.core.steps import BAD, GOOD, NEUTRAL, StepSplit, StepwiseRecord
from workbench.store.annotators import get_or_create_annotator
from workbench.store.objectives import add_objective
from workbench.store.pairs import add_prompt, add_response
from workbench.store.run_prep import prepare_run
from workbench.store.step_labels import label_first_error, label_step, set_split
from workbench.store.step_records import import_stepwise
from workbench.store.step_run_data import export_step_run_data


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_prm_run_writes_steps_jsonl(project, tmp_path: Path) -> None:
    with project.session() as s:
        correct, style = add_objective(s, "correct").id, add_objective(s, "style").id
        me = get_or_create_annotator(s, "me").id
        p = add_prompt(s, "What is 2 + 3 * 4?")
        r1 = add_response(s, p.id, "3 * 4 = 12\n2 + 12 = 14\nThe answer is 14").id
        r2 = add_response(s, p.id, "2 + 3 = 5\n5 * 4 = 20\nThe answer is 20").id
        add_response(s, p.id, "14")  # never split nor labelled: not in the file
        for rid in (r1, r2):
            set_split(s, rid, StepSplit("line"))
        for i, rating in enumerate((GOOD, NEUTRAL, GOOD)):
            label_step(s, r1, i, correct, me, rating)
        label_first_error(s, r2, 0, correct, me)
        label_step(s, r1, 2, style, me, BAD)
    with pytest.raises(ProjectError, match="no objective named 'nothing'"), project.session() as s:
        prepare_run(s, RunConfig(name="prm", kind="prm", objectives=["nothing"]), tmp_path / "runs")
    with project.session() as s:
        add_objective(s, "nothing")
    with pytest.raises(RunError, match="no step-labelled responses"), project.session() as s:
        prepare_run(s, RunConfig(name="prm", kind="prm", objectives=["nothing"]), tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no half-made folder
    with project.session() as s:
        run = prepare_run(s, RunConfig(name="prm", kind="prm", objectives=["correct"], eval_fraction=0.0),
                          tmp_path / "runs")
    run_dir = Path(run.run_dir)
    assert not (run_dir / "data.jsonl").exists() and RunConfig.load(run_dir / "config.json").kind == "prm"
    assert _rows(run_dir / "steps.jsonl") == [
        {"response_id": r1, "objective": "correct", "prompt": "What is 2 + 3 * 4?",
         "completions": ["3 * 4 = 12", "2 + 12 = 14", "The answer is 14"], "labels": [True, False, True],
         "split": "train"},
        {"response_id": r2, "objective": "correct", "prompt": "What is 2 + 3 * 4?",
         "completions": ["2 + 3 = 5", "5 * 4 = 20", "The answer is 20"], "labels": [False, None, None],
         "split": "train"}]
    with project.session() as s:  # every objective, neutral as good, a held-out share
        summary = export_step_run_data(s, [], tmp_path / "all.jsonl", eval_fraction=0.5, seed=1,
                                       neutral_is_good=True)
    rows = _rows(tmp_path / "all.jsonl")
    assert [(r["objective"], r["labels"]) for r in rows] == [
        ("correct", [True, True, True]), ("correct", [False, None, None]), ("style", [None, None, False])]
    assert summary.per_objective == {"correct": 2, "style": 1, "nothing": 0}
    assert summary.train_rows + summary.eval_rows == 3


def test_imported_step_labels_feed_a_prm_run(project, tmp_path: Path) -> None:
    with project.session() as s:
        import_stepwise(s, [StepwiseRecord("1 + 1?", ("1 + 1 = 3", "The answer is 3"), (BAD, BAD))], "correct",
                        "math-shepherd")
        run = prepare_run(s, RunConfig(name="p", kind="prm", eval_fraction=0.0), tmp_path / "runs")
    assert [r["labels"] for r in _rows(Path(run.run_dir) / "steps.jsonl")] == [[False, False]]


def test_prm_readiness_counts_match_steps_jsonl(project, tmp_path: Path) -> None:
    from workbench.core.run_readiness import label_warnings
    from workbench.store.run_readiness import split_counts

    records = [StepwiseRecord(f"q{i}", (f"a{i}", f"b{i}"), (GOOD, None if i % 3 else BAD)) for i in range(30)]
    records.append(StepwiseRecord("unrated", ("x", "y"), (None, None)))  # no rating: not a training row
    with project.session() as s:
        import_stepwise(s, records, "correct", "dataset")
        add_objective(s, "style")
        got = split_counts(s, ["correct", "style"], eval_fraction=0.3, seed=2, kind="prm")
        export_step_run_data(s, ["correct"], tmp_path / "steps.jsonl", eval_fraction=0.3, seed=2)
    rows = _rows(tmp_path / "steps.jsonl")
    assert got["correct"] == (sum(r["split"] == "train" for r in rows), sum(r["split"] == "eval" for r in rows))
    assert sum(got["correct"]) == 30 and got["correct"][1] > 0 and got["style"] == (0, 0)
    assert label_warnings(["correct", "style"], got, 64, unit="step-labelled response") == [
        f"correct: only {got['correct'][0]} training step-labelled responses, fewer than one batch (64)",
        "style: no step-labelled response to train on (label some, or leave this objective out)"]
