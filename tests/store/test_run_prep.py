"""prepare_run: the run folder a worker gets (config.json, data.jsonl, candidates.jsonl), candidates for the
"active" labelling order, and a failed preparation leaving nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.store.helpers import make_pairs
from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.store.annotators import get_or_create_annotator
from workbench.store.db import Project
from workbench.store.exports import export_candidates
from workbench.store.labels import add_label, retract_label
from workbench.store.objectives import add_objective
from workbench.store.run_prep import prepare_run
from workbench.store.runs import list_runs
from workbench.store.schema import PairRow


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _labelled_project(s) -> list[int]:
    """6 pairs, objectives helpful + harmless: 1-3 labelled helpful, 1 also harmless, 4 a helpful tie, 5-6 none;
    a harmless label on 6 that was retracted (undo) does not count."""
    ids = make_pairs(s, 6)
    helpful, harmless = add_objective(s, "helpful").id, add_objective(s, "harmless").id
    me = get_or_create_annotator(s, "me").id
    for pid in ids[:3]:
        add_label(s, pid, helpful, me, "a")
    add_label(s, ids[0], harmless, me, "b")
    add_label(s, ids[3], helpful, me, "tie")
    retract_label(s, add_label(s, ids[5], harmless, me, "a").id)
    return ids


def test_run_folder_holds_config_data_and_candidates(project: Project, tmp_path: Path) -> None:
    with project.session() as s:
        ids = _labelled_project(s)
        run = prepare_run(s, RunConfig(name="First run!", eval_fraction=0.0), tmp_path / "runs")
    run_dir = Path(run.run_dir)
    assert run_dir == tmp_path / "runs" / f"{run.id:04d}-first-run"
    assert RunConfig.load(run_dir / "config.json").name == "First run!"
    assert [(r["pair_id"], r["objective"]) for r in _rows(run_dir / "data.jsonl")] == [
        (ids[0], "helpful"), (ids[1], "helpful"), (ids[2], "helpful"), (ids[0], "harmless")]
    candidates = _rows(run_dir / "candidates.jsonl")
    assert sorted((r["pair_id"], r["objective"]) for r in candidates) == sorted([
        (ids[1], "harmless"), (ids[2], "harmless"), (ids[3], "harmless"),
        (ids[4], "helpful"), (ids[4], "harmless"), (ids[5], "helpful"), (ids[5], "harmless")])
    first = next(r for r in candidates if r["pair_id"] == ids[4] and r["objective"] == "helpful")
    assert first == {"pair_id": ids[4], "objective": "helpful", "prompt": "prompt 4", "chosen": "answer A4",
                     "rejected": "answer B4", "strength": 2, "split": "candidate"}


def test_candidates_follow_the_run_objectives_and_the_cap(project: Project, tmp_path: Path) -> None:
    with project.session() as s:
        ids = _labelled_project(s)
        assert export_candidates(s, ["helpful"], tmp_path / "c.jsonl", limit=100) == 2  # 4's tie counts as labelled
        assert [r["pair_id"] for r in _rows(tmp_path / "c.jsonl")] in ([ids[4], ids[5]], [ids[5], ids[4]])
        assert export_candidates(s, [], tmp_path / "c.jsonl", limit=0) == 0
        assert (tmp_path / "c.jsonl").read_text() == ""
        export_candidates(s, [], tmp_path / "c.jsonl", limit=2)
        by_key = list(s.scalars(select(PairRow.id).where(PairRow.id.in_(ids[1:])).order_by(PairRow.shuffle_key)))
    assert sorted({r["pair_id"] for r in _rows(tmp_path / "c.jsonl")}) == sorted(by_key[:2])


def test_failed_preparation_leaves_no_folder_and_the_next_run_works(project: Project, tmp_path: Path) -> None:
    with project.session() as s:
        _labelled_project(s)
        add_objective(s, "empty")
    with pytest.raises(RunError, match="no labelled pairs to train on"), project.session() as s:
        prepare_run(s, RunConfig(name="r", objectives=["empty"]), tmp_path / "runs")
    assert list((tmp_path / "runs").iterdir()) == []  # the rolled-back run's folder is gone
    with project.session() as s:
        assert list_runs(s) == []
        run = prepare_run(s, RunConfig(name="r", objectives=["helpful"]), tmp_path / "runs")
    assert Path(run.run_dir).name == "0001-r" and (Path(run.run_dir) / "candidates.jsonl").exists()


def test_run_folder_carries_the_prompts_reference_answers_for_scorers(project: Project, tmp_path: Path) -> None:
    """answer_correct needs each prompt's reference answer at evaluation: prompt_meta.json, keyed by the prompt's
    text as the workers see it; a project without answers writes no file."""
    from workbench.core.prompt_meta import read_prompt_meta
    from workbench.store.schema import PairRow, PromptRow
    from workbench.store.step_labels import set_reference_answer

    with project.session() as s:
        ids = _labelled_project(s)
        first = prepare_run(s, RunConfig(name="no answers", eval_fraction=0.0), tmp_path / "runs")
        prompt_id = s.get(PairRow, ids[0]).prompt_id
        set_reference_answer(s, prompt_id, "42")
        text = s.get(PromptRow, prompt_id).text
        run = prepare_run(s, RunConfig(name="answers", eval_fraction=0.0), tmp_path / "runs")
    assert not (Path(first.run_dir) / "prompt_meta.json").exists()
    assert read_prompt_meta(Path(run.run_dir) / "prompt_meta.json") == {text: {"reference_answer": "42"}}
