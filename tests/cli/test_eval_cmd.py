"""`workbench eval` and `workbench worker eval`: a MAH-DPO run evaluated over a weight grid, stored with its
checkpoint and weights, printed as a table; readable errors for what cannot be evaluated."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from tests.training.conftest import tiny_model_dir, tiny_rows  # noqa: F401 - the session-scoped model fixture
from workbench.cli import eval_cmd, worker
from workbench.core.entities import PreferenceRecord
from workbench.core.errors import InputError, RunError
from workbench.core.protocol import decode
from workbench.core.run_config import RunConfig
from workbench.store.db import create_project, open_project
from workbench.store.imports import import_records
from workbench.store.ingest import ingest_events_file
from workbench.store.run_prep import prepare_run
from workbench.store.runs import list_checkpoints, list_evaluations

REPO = Path(__file__).resolve().parents[2]


def _trained_run(tmp_path: Path, model_dir: Path, method: str) -> tuple[Path, int]:
    """A project with one finished run, trained in-process and ingested from its events file."""
    from workbench.training.engine.events import EventSink
    from workbench.training.engine.trainer import Trainer

    project_file = tmp_path / "p.sqlite"
    project = create_project(project_file)
    cfg = RunConfig(name="r", model=str(model_dir), device="cpu", method=method, batch_size=4, max_steps=4,
                    learning_rate=1e-2, max_length=64, max_prompt_length=32, eval_every=0, checkpoint_every=2,
                    eval_fraction=0.25, head_rank=4, eval_prompts=2, eval_max_new_tokens=6,
                    eval_scorers={"brevity": "length_tokens"})
    with project.session() as s:
        import_records(s, [PreferenceRecord(r["prompt"], r["chosen"], r["rejected"], r["objective"])
                           for r in tiny_rows()], default_objective=None, source="test")
        run = prepare_run(s, cfg, tmp_path / "runs")
    run_dir = Path(run.run_dir)
    sink = EventSink(str(run.id), None, run_dir / "events.jsonl")
    trainer = Trainer(cfg, run_dir, emit=sink.emit)
    trainer.prepare()
    sink.emit("ended", reason=trainer.run(), error="", step=trainer.pos.step)
    sink.close()
    with project.session() as s:
        ingest_events_file(s, run.id, run_dir / "events.jsonl")
    project.close()
    return project_file, run.id


def _args(project: Path, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    eval_cmd.add_arguments(parser)
    return parser.parse_args([str(project), *argv])


def test_eval_grid_of_mah_dpo_run_is_stored_and_printed(tiny_model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    project_file, run_id = _trained_run(tmp_path, tiny_model_dir, "mah_dpo")
    project = open_project(project_file)
    with project.session() as s:
        checkpoints = list_checkpoints(s, run_id)
        before = len(list_evaluations(s, run_id))
    project.close()
    assert [c.step for c in checkpoints] == [2, 4]

    assert eval_cmd.run(_args(project_file, "--run", str(run_id), "--checkpoint", "2", "--grid", "3")) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("[evaluating] point 3/3") for line in out)  # progress, then the table
    table = out[next(i for i, line in enumerate(out) if line.split()[:1] == ["point"]):]
    assert table[0].split()[:4] == ["point", "weights", "brevity↓", "detail↑"]  # length_tokens minimises
    assert table[1].lstrip("* ").split()[:3] == ["base", "model", "untrained"]  # the untrained base model: a point of every grid
    assert [line.split("step-2")[1].split()[:2] for line in table[2:]] == [
        ["brevity=1.00", "detail=0.00"], ["brevity=0.50", "detail=0.50"], ["brevity=0.00", "detail=1.00"]]

    project = open_project(project_file)
    with project.session() as s:
        rows = list_evaluations(s, run_id)[before:]
    project.close()
    base = [r for r in rows if r.produced_by.get("base_model")]
    rows = [r for r in rows if not r.produced_by.get("base_model")]
    assert len(base) == 7 and {r.checkpoint_id for r in base} == {None}
    assert next(r.value for r in base if r.metric == "kl") == 0.0  # the base model is its own reference
    assert len(rows) == 3 * 7  # per mixture: accuracy, margin per objective + brevity score + kl + length
    assert {r.checkpoint_id for r in rows} == {checkpoints[0].id}
    assert [r.weights for r in rows if r.metric == "kl"] == [{"brevity": 1.0, "detail": 0.0},
                                                             {"brevity": 0.5, "detail": 0.5},
                                                             {"brevity": 0.0, "detail": 1.0}]
    assert {(r.objective, r.metric) for r in rows} == {
        ("brevity", "accuracy"), ("brevity", "margin"), ("detail", "accuracy"), ("detail", "margin"),
        ("brevity", "score"), ("", "kl"), ("", "length")}
    events = [decode(x) for x in (tmp_path / "runs" / "0001-r" / "events.jsonl").read_text().splitlines()]
    assert [m.type for m in events].count("ended") == 1  # the evaluation's `ended` never reaches the run's record
    assert [m.data["weights"] for m in events if m.type == "eval" and m.data["weights"]] == [
        {"brevity": 1.0, "detail": 0.0}, {"brevity": 0.5, "detail": 0.5}, {"brevity": 0.0, "detail": 1.0}]


def test_eval_errors_are_one_readable_line(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    project_file, run_id = _trained_run(tmp_path, tiny_model_dir, "weighted")
    with pytest.raises(RunError, match="one fixed trade-off per checkpoint; --grid needs a mah_dpo or soup run"):
        eval_cmd.run(_args(project_file, "--run", str(run_id), "--grid", "3"))
    with pytest.raises(RunError, match="no checkpoint at step 3; it has steps 2, 4"):
        eval_cmd.run(_args(project_file, "--run", str(run_id), "--checkpoint", "3"))
    with pytest.raises(RunError, match="--grid needs at least 2"):
        eval_cmd.run(_args(project_file, "--run", str(run_id), "--grid", "1"))


def test_worker_eval_arguments():
    parser = argparse.ArgumentParser()
    worker.add_arguments(parser)
    args = parser.parse_args(["eval", "--run-dir", "a", "--checkpoint", "checkpoints/step-2", "--run-dir", "b",
                              "--checkpoint", "checkpoints/step-4", "--weights-json", '[{"x": 1, "y": 0}]'])
    jobs = worker.eval_jobs(args)
    assert [(j.run_dir, j.checkpoint, j.weights) for j in jobs] == [
        (Path("a"), "checkpoints/step-2", [{"x": 1.0, "y": 0.0}]),
        (Path("b"), "checkpoints/step-4", [{"x": 1.0, "y": 0.0}])]
    soup = worker.eval_jobs(parser.parse_args(["eval", "--run-dir", "s"]))
    assert [(j.run_dir, j.checkpoint, j.weights) for j in soup] == [(Path("s"), None, None)]
    with pytest.raises(InputError, match="one --checkpoint per --run-dir"):
        worker.eval_jobs(parser.parse_args(["eval", "--run-dir", "a", "--run-dir", "b", "--checkpoint", "c"]))
    for bad, why in (("[1, 2]", "list of"), ('[{"x": "heavy"}]', "must be numbers"), ("{", "not valid JSON")):
        with pytest.raises(InputError, match=why):
            worker.parse_weights(bad)
    argv = eval_cmd.eval_argv([(Path("r1"), "checkpoints/step-2"), (Path("r2"), None)], [{"x": 0.5}])
    assert argv[:5] == [sys.executable, "-m", "workbench", "worker", "eval"]
    assert argv[5:] == ["--run-dir", "r1", "--checkpoint", "checkpoints/step-2", "--run-dir", "r2",
                        "--weights-json", json.dumps([{"x": 0.5}])]
