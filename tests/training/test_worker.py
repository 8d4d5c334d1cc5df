"""The worker process and its supervisor: real runs over the protocol, and fake workers that misbehave."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench.cli.supervise import WorkerProcess
from workbench.cli.train import worker_argv
from workbench.core.protocol import decode, encode
from workbench.core.run_config import RunConfig

REPO = Path(__file__).resolve().parents[2]


def make_run_dir(model_dir: Path, data_path: Path, **overrides) -> Path:
    run_dir = data_path.parent.with_name("0007-test-run")
    data_path.parent.rename(run_dir)
    settings = dict(model=str(model_dir), device="cpu", batch_size=4, max_steps=3, learning_rate=1e-2,
                    max_length=64, max_prompt_length=32, eval_every=2, checkpoint_every=2)
    settings.update(overrides)
    RunConfig(**settings).save(run_dir / "config.json")
    return run_dir


def drain(worker: WorkerProcess, on_message=None) -> list:
    out = []
    for batch in worker.messages():
        for msg in batch:
            out.append(msg)
            if on_message:
                on_message(msg)
    return out


def test_normal_run_emits_events_checkpoints_and_finished(tiny_model_dir, tiny_run_data):
    run_dir = make_run_dir(tiny_model_dir, tiny_run_data)
    worker = WorkerProcess(worker_argv(run_dir, False), run_id="7")
    msgs = drain(worker)
    types = [m.type for m in msgs]
    assert worker.garbage == []  # stray prints of transformers/peft went to stderr, not into the protocol
    assert msgs[-1].type == "ended" and msgs[-1].data["reason"] == "finished", msgs[-1]
    assert msgs[-1].data["step"] == 3 and all(m.run == "7" for m in msgs)
    assert {"status", "metric", "eval", "checkpoint"} <= set(types)
    assert [m.data["step"] for m in msgs if m.type == "checkpoint"] == [2, 3]
    assert (run_dir / "checkpoints" / "step-3" / "adapter_model.safetensors").exists()
    margins = json.loads((run_dir / "pair_margins.json").read_text())  # for the "active" labelling order
    assert sorted(int(k) for k in margins) == list(range(1, 13)) and all(v >= 0 for v in margins.values())
    on_disk = [decode(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert [(m.type, m.data) for m in on_disk] == [(m.type, m.data) for m in msgs]
    assert worker.proc.returncode == 0


def test_stop_command_checkpoints_and_resume_finishes(tiny_model_dir, tiny_run_data):
    run_dir = make_run_dir(tiny_model_dir, tiny_run_data, max_steps=400, checkpoint_every=0, eval_every=0)
    worker = WorkerProcess(worker_argv(run_dir, False), run_id="7")
    sent = []

    def stop_after_first_metric(msg):
        if msg.type == "metric" and not sent:
            worker.stop()
            sent.append(msg.data["step"])

    msgs = drain(worker, stop_after_first_metric)
    end = msgs[-1]
    assert end.data["reason"] == "stopped" and 1 <= end.data["step"] < 400
    assert [m.data["step"] for m in msgs if m.type == "checkpoint"] == [end.data["step"]]
    assert not (run_dir / "pair_margins.json").exists()  # only a finished run scores pairs
    config = json.loads((run_dir / "config.json").read_text())
    config["max_steps"] = end.data["step"] + 1
    (run_dir / "config.json").write_text(json.dumps(config))
    resumed = drain(WorkerProcess(worker_argv(run_dir, True), run_id="7"))
    assert [m.data["step"] for m in resumed if m.type == "metric" and "loss" in m.data["values"]] == [
        end.data["step"] + 1]
    assert resumed[-1].data["reason"] == "finished" and (run_dir / "pair_margins.json").exists()


def _fake(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "fake_worker.py"
    script.write_text(textwrap.dedent(body))
    return [sys.executable, str(script)]


def test_garbage_lines_become_warnings_and_run_goes_on(tmp_path):
    argv = _fake(tmp_path, """
        import sys
        from workbench.core.protocol import encode
        print("hello from a library")
        print("{not json")
        print(encode("metric", "1", step=1, values={"loss": 0.5}), end="")
        print('{"v": 99, "type": "metric"}')
        print(encode("ended", "1", reason="finished", error="", step=1), end="")
    """)
    worker = WorkerProcess(argv, run_id="1", env=_env())
    msgs = drain(worker)
    assert [m.type for m in msgs] == ["log", "log", "metric", "log", "ended"]
    assert all(m.data["level"] == "warning" for m in msgs if m.type == "log")
    assert len(worker.garbage) == 3 and worker.garbage[0] == "hello from a library"
    assert msgs[-1].data["reason"] == "finished"


def test_worker_dying_without_ended_is_recorded_as_crashed(tmp_path):
    argv = _fake(tmp_path, """
        import os
        from workbench.core.protocol import encode
        print(encode("metric", "1", step=1, values={"loss": 0.5}), end="", flush=True)
        os._exit(3)
    """)
    msgs = drain(WorkerProcess(argv, run_id="1", env=_env()))
    assert msgs[-1].type == "ended" and msgs[-1].data["reason"] == "crashed"
    assert "exit code 3" in msgs[-1].data["error"] and "resume" in msgs[-1].data["error"]


def test_worker_ignoring_stop_is_killed_after_grace_and_recorded_crashed(tmp_path):
    argv = _fake(tmp_path, """
        import time
        from workbench.core.protocol import encode
        print(encode("status", "1", state="training", message="", progress=0, step=0, total_steps=9),
              end="", flush=True)
        time.sleep(60)
    """)
    worker = WorkerProcess(argv, run_id="1", grace_s=0.5, env=_env())
    t0 = time.monotonic()
    msgs = drain(worker, lambda m: worker.stop() if m.type == "status" else None)
    assert time.monotonic() - t0 < 20
    assert worker.killed
    assert msgs[-1].data["reason"] == "crashed" and "ignoring the stop request" in msgs[-1].data["error"]


def _env() -> dict:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(autouse=True)
def _pythonpath(monkeypatch):
    """Real workers run `python -m workbench` from the repository (as the app does)."""
    monkeypatch.chdir(REPO)


def _listener_on_pipe():
    from workbench.training.worker import StopListener

    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "r"), os.fdopen(write_fd, "w", buffering=1)
    return StopListener(reader), writer


@pytest.mark.parametrize("ending", ["stop", "eof"])
def test_stdin_stop_command_or_eof_means_stop(ending):
    """The worker's stdin: unknown and garbage lines are ignored (garbage counted); `stop` or the parent closing
    the pipe (EOF: the parent died or gave up) both ask for a stop."""
    listener, writer = _listener_on_pipe()
    writer.write("not json\n")
    writer.write(encode("generate", "7", prompt="hi"))  # a valid command meant for inference workers
    time.sleep(0.3)
    assert not listener() and listener.garbage == 1
    if ending == "stop":
        writer.write(encode("stop", "7"))
    else:
        writer.close()
    assert listener.flag.wait(5) and listener()
    if not writer.closed:
        writer.close()
