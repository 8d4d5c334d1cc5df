"""`workbench train` headless: project -> run folder -> worker -> ingested metrics, checkpoints and status."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.training.conftest import tiny_model_dir, tiny_rows  # noqa: F401 - the session-scoped model fixture
from workbench.cli import supervise
from workbench.cli import train as train_cli
from workbench.cli.supervise import WorkerProcess
from workbench.core.entities import PreferenceRecord
from workbench.core.protocol import decode
from workbench.store.annotators import get_or_create_annotator
from workbench.store.db import create_project, open_project
from workbench.store.imports import import_records
from workbench.store.labels import add_label
from workbench.store.objectives import list_objectives
from workbench.store.pairs import add_pair, add_prompt, add_response
from workbench.store.queue import next_pair
from workbench.store.runs import create_run, get_run, list_checkpoints, metric_series, set_run_status
from workbench.training.preference.margins import read_margins

REPO = Path(__file__).resolve().parents[2]
UNLABELLED = ("the moon", "cheese", "a bicycle", "rain", "a violin")


@pytest.fixture()
def project_file(tmp_path: Path) -> Path:
    """The 12 tiny pairs labelled for brevity and detail, plus 5 pairs nobody has labelled yet."""
    path = tmp_path / "p.sqlite"
    project = create_project(path)
    records = [PreferenceRecord(r["prompt"], r["chosen"], r["rejected"], r["objective"]) for r in tiny_rows()]
    with project.session() as s:
        import_records(s, records, default_objective=None, source="test")
        for topic in UNLABELLED:
            prompt = add_prompt(s, f"Tell me about {topic}.")
            a = add_response(s, prompt.id, f"It is {topic}.")
            b = add_response(s, prompt.id, f"Here is a long and careful answer about {topic}, with examples.")
            add_pair(s, prompt.id, a.id, b.id, source="generated")
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


def _active_order_follows_the_run_margins(project_file: Path, run_dir: Path) -> None:
    """The finished run scored its 12 pairs and the 5 unlabelled ones (pair_margins.json); the labelling queue's
    "active" order then offers the unlabelled pairs smallest |margin| first."""
    margins = read_margins(run_dir / "pair_margins.json")
    assert set(margins) == set(range(1, 18))  # pairs 13-17 are the unlabelled ones
    project = open_project(project_file)
    with project.session() as s:
        me = get_or_create_annotator(s, "me").id
        objectives = [o.id for o in list_objectives(s)]
        offered = []
        for _ in range(17):  # imported labels fill no overlap (issue #13): every pair is open to "me"
            pair = next_pair(s, me, order="active", margins=margins)
            offered.append(pair.id)
            for oid in objectives:
                add_label(s, pair.id, oid, me, "a")
        assert next_pair(s, me, order="active", margins=margins) is None
    project.close()
    assert offered == sorted(range(1, 18), key=lambda pid: abs(margins[pid]))
    assert len({round(margins[pid], 9) for pid in offered}) == 17  # distinct margins: the order is a real one


class KilledAfterFirstCheckpoint(WorkerProcess):
    """The real worker, SIGKILLed the moment its parent sees a checkpoint event (as the OOM killer or a user would)."""

    def messages(self, timeout: float = 0.2):
        for batch in super().messages(timeout):
            yield batch
            if any(m.type == "checkpoint" for m in batch) and self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)


def test_headless_run_killed_resumed_and_finished(project_file, tiny_model_dir, tmp_path, capsys, monkeypatch):
    """`workbench train`: the worker is SIGKILLed after its first checkpoint (the run is recorded crashed), then
    `--resume` continues from that checkpoint to the end: metrics, checkpoints, evaluations and status in the
    store, progress on stdout, and the finished run's pair margins driving the "active" labelling order."""
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(supervise, "WorkerProcess", KilledAfterFirstCheckpoint)
    cfg = _config(tmp_path, tiny_model_dir, max_steps=6, checkpoint_every=2, eval_every=2)
    assert train_cli.run(_args(project_file, config=cfg, runs_dir=tmp_path / "runs")) == 1
    out = capsys.readouterr().out.splitlines()
    project = open_project(project_file)
    with project.session() as s:
        crashed = get_run(s, 1)
        kept = [c.step for c in list_checkpoints(s, 1)]
    project.close()
    assert out[0] == f"run 1: {crashed.run_dir}" and Path(crashed.run_dir).name == "0001-cli-run"
    assert crashed.status == "crashed" and "exit code -9" in crashed.error and "resume" in crashed.error
    assert out[-2] == f"run 1 crashed at step {crashed.last_step}: {crashed.error}"
    assert out[-1] == f"the worker's full log: {Path(crashed.run_dir) / 'worker.log'}"  # its traceback, if any
    assert kept and kept[-1] < 6  # killed before the end; the last checkpoint is where the resume starts

    monkeypatch.setattr(supervise, "WorkerProcess", WorkerProcess)
    assert train_cli.run(_args(project_file, resume=1)) == 0
    out = capsys.readouterr().out.splitlines()
    assert "step 6  loss" in " ".join(out) and out[-1] == "run 1 finished at step 6"
    project = open_project(project_file)
    with project.session() as s:
        run = get_run(s, 1)
        steps, losses = metric_series(s, 1, "loss")
        eval_steps, _ = metric_series(s, 1, "eval/loss")
        checkpoints = [c.step for c in list_checkpoints(s, 1)]
    project.close()
    assert (run.status, run.last_step, run.error) == ("finished", 6, "")
    assert steps == [1, 2, 3, 4, 5, 6] and losses[0] == pytest.approx(0.6931472, abs=1e-6)
    assert eval_steps == [2, 4, 6] and checkpoints == [2, 4, 6]
    events = [decode(line) for line in (Path(run.run_dir) / "events.jsonl").read_text().splitlines()]
    assert [m.data["message"] for m in events if m.type == "log" and m.data["message"].startswith("resumed")] == [
        f"resumed from step-{kept[-1]}"]
    data = [json.loads(x) for x in (Path(run.run_dir) / "data.jsonl").read_text().splitlines()]
    assert len(data) == 24 and {d["split"] for d in data} <= {"train", "eval"}
    _active_order_follows_the_run_margins(project_file, Path(run.run_dir))


def _fake_run(tmp_path: Path, body: str, **kw) -> tuple:
    """A project with one running run and a WorkerProcess on a fake worker script (protocol lines from `body`)."""
    project = create_project(tmp_path / "fake.sqlite")
    with project.session() as s:
        run = create_run(s, "fake", {}, str(tmp_path))
        set_run_status(s, run.id, "running")
    script = tmp_path / "fake_worker.py"
    script.write_text(textwrap.dedent(body))
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return project, run.id, kw.pop("cls", WorkerProcess)([sys.executable, str(script)], run_id=str(run.id), env=env,
                                                        **kw)


def test_parent_records_a_worker_printing_garbage(tmp_path, capsys):
    project, run_id, worker = _fake_run(tmp_path, """
        from workbench.core.protocol import encode
        print("hello from a library")
        print("{not json")
        print(encode("metric", "1", step=1, values={"loss": 0.5}), end="")
        print(encode("metric", "1", step=2, values={"loss": 0.25}), end="")
        print(encode("ended", "1", reason="finished", error="", step=2), end="")
    """)
    run = train_cli.follow(project, run_id, worker)
    with project.session() as s:
        series = metric_series(s, run_id, "loss")
    project.close()
    assert (run.status, run.last_step, run.error) == ("finished", 2, "")
    assert series == ([1, 2], [0.5, 0.25])
    lines = capsys.readouterr().out.splitlines()
    assert [x for x in lines if x.startswith("warning: worker printed a non-protocol line")] and len(
        [x for x in lines if x.startswith("warning:")]) == 2
    assert "step 2  loss 0.2500" in lines


def test_parent_records_a_worker_dying_without_ended(tmp_path):
    project, run_id, worker = _fake_run(tmp_path, """
        import os
        from workbench.core.protocol import encode
        print(encode("metric", "1", step=1, values={"loss": 0.5}), end="", flush=True)
        print(encode("checkpoint", "1", step=1, path="ckpt/step-1"), end="", flush=True)
        os._exit(3)
    """)
    run = train_cli.follow(project, run_id, worker)
    with project.session() as s:
        kept = [(c.step, c.path) for c in list_checkpoints(s, run_id)]
    project.close()
    assert (run.status, run.last_step) == ("crashed", 1) and run.ended_at is not None
    assert "exit code 3" in run.error and "resume the run" in run.error
    assert kept == [(1, "ckpt/step-1")]


class CtrlCAfterFirstEvent(WorkerProcess):
    """Presses Ctrl+C (SIGINT to this process) once the first event has arrived."""

    def messages(self, timeout: float = 0.2):
        sent = False
        for batch in super().messages(timeout):
            yield batch
            if batch and not sent:
                sent = True
                os.kill(os.getpid(), signal.SIGINT)


STATUS_THEN = """
    import sys, time
    from workbench.core.protocol import decode, encode
    print(encode("status", "1", state="training", message="", progress=0, step=0, total_steps=9),
          end="", flush=True)
"""


def test_ctrl_c_stops_a_listening_worker(tmp_path, capsys):
    project, run_id, worker = _fake_run(tmp_path, STATUS_THEN + """
    for line in sys.stdin:
        if decode(line).type == "stop":
            print(encode("checkpoint", "1", step=4, path="ckpt/step-4"), end="", flush=True)
            print(encode("ended", "1", reason="stopped", error="", step=4), end="", flush=True)
            break
    """, cls=CtrlCAfterFirstEvent, grace_s=30)
    run = train_cli.follow(project, run_id, worker)
    project.close()
    assert (run.status, run.last_step, run.error) == ("stopped", 4, "")
    assert "stopping: the worker finishes its current step and saves a checkpoint" in capsys.readouterr().out
    assert not worker.killed


def test_ctrl_c_kills_a_worker_ignoring_stop_after_the_grace_period(tmp_path):
    project, run_id, worker = _fake_run(tmp_path, STATUS_THEN + """
    time.sleep(60)
    """, cls=CtrlCAfterFirstEvent, grace_s=0.5)
    start = time.monotonic()
    run = train_cli.follow(project, run_id, worker)
    project.close()
    assert time.monotonic() - start < 30 and worker.killed
    assert run.status == "crashed" and "killed after ignoring the stop request" in run.error


class CtrlCTwice(WorkerProcess):
    """Presses Ctrl+C once the first event has arrived, and again a second later."""

    def messages(self, timeout: float = 0.2):
        pressed, first = 0, None
        for batch in super().messages(timeout):
            yield batch
            if batch and pressed == 0:
                pressed, first = 1, time.monotonic()
                os.kill(os.getpid(), signal.SIGINT)
            elif pressed == 1 and time.monotonic() - first > 1.0:
                pressed = 2
                os.kill(os.getpid(), signal.SIGINT)


def test_a_stopping_worker_is_never_killed_by_a_timer_only_by_a_second_ctrl_c(tmp_path, capsys):
    # a step on a CPU can take longer than any fixed grace period: the first Ctrl+C must wait for the checkpoint
    args = argparse.ArgumentParser()
    train_cli.add_arguments(args)
    assert args.parse_args(["p.sqlite"]).grace is None
    project, run_id, worker = _fake_run(tmp_path, STATUS_THEN + """
    time.sleep(60)
    """, cls=CtrlCTwice)
    assert worker.grace_s is None
    start = time.monotonic()
    run = train_cli.follow(project, run_id, worker)
    project.close()
    out = capsys.readouterr().out
    assert 1.0 < time.monotonic() - start < 20 and worker.killed
    assert "stopping: the worker finishes its current step" in out and "killed: the steps since" in out
    assert run.status == "crashed" and "killed after ignoring the stop request" in run.error
