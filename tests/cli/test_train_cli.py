"""`workbench train` headless: project -> run folder -> worker -> ingested metrics, checkpoints and status."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from tests.training.conftest import tiny_model_dir, tiny_rows  # noqa: F401 - the session-scoped model fixture
from workbench.cli import train as train_cli
from workbench.core.entities import PreferenceRecord
from workbench.store.db import create_project, open_project
from workbench.store.imports import import_records
from workbench.store.runs import get_run, list_checkpoints, metric_series

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def project_file(tmp_path: Path) -> Path:
    path = tmp_path / "p.sqlite"
    project = create_project(path)
    records = [PreferenceRecord(r["prompt"], r["chosen"], r["rejected"], r["objective"]) for r in tiny_rows()]
    with project.session() as s:
        import_records(s, records, default_objective=None, source="test")
    project.close()
    return path


def _config(tmp_path: Path, model_dir: Path, **overrides) -> Path:
    settings = dict(name="CLI run", model=str(model_dir), device="cpu", batch_size=4, max_steps=3,
                    learning_rate=1e-2, max_length=64, max_prompt_length=32, eval_every=2, checkpoint_every=2,
                    eval_fraction=0.2)
    settings.update(overrides)
    lines = ["[run]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path = tmp_path / "run.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _args(project: Path, **kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    argv = [str(project)]
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return parser.parse_args(argv)


def test_headless_train_stores_metrics_checkpoints_and_status(project_file, tiny_model_dir, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.chdir(REPO)
    cfg = _config(tmp_path, tiny_model_dir)
    code = train_cli.run(_args(project_file, config=cfg, runs_dir=tmp_path / "runs"))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "step 3  loss" in out and out.strip().endswith("finished at step 3")
    project = open_project(project_file)
    with project.session() as s:
        run = get_run(s, 1)
        steps, losses = metric_series(s, 1, "loss")
        checkpoints = [c.step for c in list_checkpoints(s, 1)]
    project.close()
    assert run.status == "finished" and run.last_step == 3
    assert Path(run.run_dir).name == "0001-cli-run"
    assert steps == [1, 2, 3] and losses[0] == pytest.approx(0.6931472, abs=1e-6)
    assert checkpoints == [2, 3]
    data = [json.loads(x) for x in (Path(run.run_dir) / "data.jsonl").read_text().splitlines()]
    assert len(data) == 24 and {d["split"] for d in data} <= {"train", "eval"}


def test_crashed_worker_is_recorded_and_resume_finishes(project_file, tiny_model_dir, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.chdir(REPO)
    real_argv = train_cli.worker_argv
    crash = [sys.executable, "-c", "import sys; sys.exit(9)"]
    monkeypatch.setattr(train_cli, "worker_argv", lambda run_dir, resume: crash)
    cfg = _config(tmp_path, tiny_model_dir)
    assert train_cli.run(_args(project_file, config=cfg, runs_dir=tmp_path / "runs")) == 1
    assert "run 1 crashed at step 0" in capsys.readouterr().out
    monkeypatch.setattr(train_cli, "worker_argv", real_argv)
    assert train_cli.run(_args(project_file, resume=1)) == 0
    project = open_project(project_file)
    with project.session() as s:
        run = get_run(s, 1)
    project.close()
    assert run.status == "finished" and run.last_step == 3 and run.error == ""
