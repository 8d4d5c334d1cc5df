"""RunSupervisor drives real child processes (tests/ui/fake_worker.py speaks the real protocol): live series,
cooperative stop, kill after the grace period, crash detection, pid files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.core.entities import Run
from workbench.services.db_executor import DbExecutor
from workbench.services.run_supervisor import PID_FILE, RunSupervisor, eval_command

FAKE = Path(__file__).with_name("fake_worker.py")


def fake_command(run_dir: Path) -> tuple[str, list[str]]:
    return sys.executable, [str(FAKE), "--run-dir", str(run_dir)]


def fake_eval_command(run_dir: Path, checkpoint: str, weights: list[dict]) -> tuple[str, list[str]]:
    """The real argument list of `worker eval`, run by the fake worker."""
    _, args = eval_command(run_dir, checkpoint, weights)
    return sys.executable, [str(FAKE), *args[args.index("--run-dir"):]]


def make_run(tmp_path: Path, run_id: int, **spec) -> Run:
    run_dir = tmp_path / f"run-{run_id}"
    run_dir.mkdir()
    (run_dir / "fake.json").write_text(json.dumps({"run": str(run_id), **spec}))
    return Run(id=run_id, name=f"r{run_id}", config={"method": "dpo"}, status="created", run_dir=str(run_dir))


@pytest.fixture
def sup(qapp):
    db = DbExecutor()
    s = RunSupervisor(db, command=fake_command, flush_ms=50)
    yield s
    for rid in s.running_ids():
        s.kill(rid)
    db.shutdown()


def wait_state(qtbot, sup: RunSupervisor, run_id: int, final: str, timeout: int = 20000) -> list[str]:
    states: list[str] = []
    sup.run_state_changed.connect(lambda rid, st: states.append(st) if rid == run_id else None)
    qtbot.waitUntil(lambda: final in states, timeout=timeout)
    return states


def test_metrics_reach_the_series_and_the_run_finishes(qtbot, sup, tmp_path):
    run = make_run(tmp_path, 7, mode="metrics", n=250, garbage=True)
    events = []
    batches = []
    sup.event.connect(lambda rid, msg: events.append(msg.type))
    sup.metrics.connect(lambda rid, batch: batches.append(batch))
    sup.start(run)
    assert sup.is_running(7)
    wait_state(qtbot, sup, 7, "finished")
    loss = sup.series(7).get("loss")
    assert len(loss) == 250
    np.testing.assert_array_equal(loss.steps, np.arange(1, 251))
    np.testing.assert_allclose(loss.values, 1.0 / np.arange(1, 251))
    assert sum(len(b["loss"][0]) for b in batches) == 250  # every point delivered once, in batches
    assert len(batches) < 250  # ... and batched, not one signal per message
    assert events[0] == "status" and events[-1] == "ended"
    live = sup.live(7)
    assert live.state == "finished" and live.step == 250 and live.loss == pytest.approx(1 / 250)
    assert not (Path(run.run_dir) / PID_FILE).exists()
    assert not sup.is_running(7)


def test_stop_is_cooperative(qtbot, sup, tmp_path):
    run = make_run(tmp_path, 1, mode="wait")
    sup.start(run)
    qtbot.waitUntil(lambda: sup.live(1).state == "training", timeout=20000)
    assert (Path(run.run_dir) / PID_FILE).read_text().strip().isdigit()
    sup.stop(1)
    states = wait_state(qtbot, sup, 1, "stopped")
    assert (Path(run.run_dir) / "got_stop").read_text() == "stop"  # the worker saw the stop command
    assert sup.live(1).ended == "stopped"  # it said goodbye itself: not killed
    assert states[-1] == "stopped"


def test_stop_waits_for_a_slow_step_and_never_kills(qtbot, sup, tmp_path):
    """Issue #13 bug 2: a step longer than any grace period (SmolLM2 on a CPU: 20-45 s) still ends in a checkpoint;
    the run says which step it is stopping after."""
    run = make_run(tmp_path, 2, mode="slow_stop", delay=1.5)
    sup.start(run)
    qtbot.waitUntil(lambda: sup.live(2).state == "training", timeout=20000)
    sup.stop(2)
    assert sup.live(2).state == "stopping" and "stopping after step 1" in sup.live(2).message
    wait_state(qtbot, sup, 2, "stopped")
    assert (Path(run.run_dir) / "checkpointed").exists()  # the worker finished its step and saved
    assert sup.live(2).ended == "stopped"  # it said goodbye itself: not killed


def test_only_kill_ends_a_worker_that_ignores_stop(qtbot, sup, tmp_path):
    run = make_run(tmp_path, 4, mode="ignore_stop")
    sup.start(run)
    qtbot.waitUntil(lambda: sup.live(4).state == "training", timeout=20000)
    sup.stop(4)
    qtbot.wait(1500)
    assert sup.is_running(4)
    sup.kill(4)
    wait_state(qtbot, sup, 4, "stopped", timeout=5000)
    assert sup.live(4).ended == ""


def test_resume_passes_resume_to_the_worker(qtbot, sup, tmp_path):
    """Issue #13 bug 1: a stopped run started again continues from its checkpoint (`--resume`), as the CLI does."""
    run = make_run(tmp_path, 5, mode="metrics", n=3)
    sup.start(run)
    wait_state(qtbot, sup, 5, "finished")
    sup.start(run, resume=True)
    wait_state(qtbot, sup, 5, "finished")
    launches = (Path(run.run_dir) / "argv.txt").read_text().splitlines()
    assert len(launches) == 2
    assert "--resume" not in launches[0].split() and launches[1].split()[-1] == "--resume"


def test_kill_is_immediate(qtbot, sup, tmp_path):
    run = make_run(tmp_path, 3, mode="ignore_stop")
    sup.start(run)
    qtbot.waitUntil(lambda: sup.live(3).state == "training", timeout=20000)
    sup.kill(3)
    wait_state(qtbot, sup, 3, "stopped", timeout=5000)


def test_a_worker_dying_without_goodbye_is_crashed_with_its_stderr(qtbot, sup, tmp_path):
    run = make_run(tmp_path, 4, mode="crash")
    logs = []
    sup.event.connect(lambda rid, msg: logs.append(msg.data.get("message")) if msg.type == "log" else None)
    sup.start(run)
    wait_state(qtbot, sup, 4, "crashed")
    err = sup.live(4).error
    assert "code 3" in err and "CUDA out of memory" in err
    assert any("CUDA out of memory" in (m or "") for m in logs)


def test_is_alive_reads_the_pid_file_of_an_earlier_session(qapp, sup, tmp_path):
    run = make_run(tmp_path, 5, mode="metrics")
    assert not sup.is_alive(run)  # no pid file
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "worker"])
    try:
        (Path(run.run_dir) / PID_FILE).write_text(str(child.pid))
        assert sup.is_alive(run)
    finally:
        child.kill()
        child.wait()
    assert not sup.is_alive(run)  # the pid is gone
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    (Path(run.run_dir) / PID_FILE).write_text(str(done.pid))
    assert not sup.is_alive(run)  # a pid that no longer exists
    (Path(run.run_dir) / PID_FILE).write_text(str(subprocess.os.getpid()))
    assert not sup.is_alive(run)  # a live process that is not a worker (this test runner)


def test_events_file_is_ingested_on_the_db_thread_and_evaluations_announced(qtbot, sup, tmp_path):
    from contextlib import nullcontext

    class Project:
        def session(self):
            return nullcontext("session")

    calls: list[tuple] = []

    def ingest(s, run_id, path):
        calls.append(("ingest", s, run_id, sup.db.on_db_thread(), len(Path(path).read_text().splitlines())))

    def set_status(s, run_id, status, error):
        calls.append(("status", s, run_id, status, error))

    sup.db.set_project(Project())
    sup.ingest_events_file = ingest
    sup.set_run_status = set_status
    announced = []
    sup.evaluations_ingested.connect(announced.append)
    run = make_run(tmp_path, 8, mode="metrics", n=20, eval=True)
    sup.start(run)
    wait_state(qtbot, sup, 8, "finished")
    qtbot.waitUntil(lambda: any(c[0] == "status" for c in calls) and bool(announced), timeout=10_000)
    ingests = [c for c in calls if c[0] == "ingest"]
    assert ingests and all(c[1] == "session" and c[2] == 8 and c[3] for c in ingests)
    assert ingests[-1][4] == 1 + 20 + 1 + 1  # status + metrics + eval + ended: the whole file reached the store
    assert ("status", "session", 8, "finished", "") in calls
    assert announced[0] == 8


def test_eval_command_is_the_worker_eval_subcommand(tmp_path):
    program, args = eval_command(tmp_path, "/r/ck-10", [{"a": 1.0, "b": 0.0}, {"a": 0.5, "b": 0.5}])
    assert program == sys.executable
    assert args[:4] == ["-m", "workbench", "worker", "eval"]
    assert args[4:] == ["--run-dir", str(tmp_path), "--checkpoint", "/r/ck-10", "--weights-json",
                        '[{"a": 1.0, "b": 0.0}, {"a": 0.5, "b": 0.5}]', "--base"]  # the base model: on every front
    assert "--checkpoint" not in eval_command(tmp_path, "", [])[1]  # a soup: its adapters are in its config


@pytest.mark.parametrize("mode, reason", [("eval", "finished"), ("eval_fail", "failed")])
def test_an_evaluation_job_is_ingested_and_leaves_the_run_status_alone(qtbot, sup, tmp_path, mode, reason):
    from contextlib import nullcontext

    class Project:
        def session(self):
            return nullcontext("session")

    calls: list[tuple] = []
    sup.db.set_project(Project())
    sup.ingest_events_file = lambda s, rid, path: calls.append(("ingest", len(Path(path).read_text().splitlines())))
    sup.set_run_status = lambda s, rid, status, error: calls.append(("status", rid, status, error))
    sup.eval_command = fake_eval_command
    ended: list[tuple] = []
    sup.eval_finished.connect(lambda rid, why, err: ended.append((rid, why, err)))
    events: list = []
    sup.event.connect(lambda rid, msg: events.append(msg.type))
    run = make_run(tmp_path, 5, mode=mode)
    run = Run(5, "mah", {"method": "mah_dpo"}, "finished", run.run_dir, error="")
    weights = [{"helpful": 1.0, "harmless": 0.0}, {"helpful": 0.5, "harmless": 0.5}, {"helpful": 0.0, "harmless": 1.0}]
    sup.start_eval(run, "/r/ck-10", weights)
    assert sup.job_kind(5) == "eval" and sup.live(5).state == "evaluating"
    with pytest.raises(Exception, match="has a job running"):
        sup.start_eval(run, "/r/ck-10", weights)
    qtbot.waitUntil(lambda: bool(ended) and any(c[0] == "status" for c in calls), timeout=20_000)
    n_evals = 3 if mode == "eval" else 1
    assert ended == [(5, reason, "" if mode == "eval" else "out of memory")]
    assert events.count("eval") == n_evals
    assert ("status", 5, "finished", "") in calls  # restored: the run stays finished whatever the evaluation did
    assert calls[-2][0] == "ingest" and calls[-2][1] == n_evals + 1  # every eval event + ended reached the store
    assert sup.live(5) is None and sup.job_kind(5) is None
    sup.db.set_project(None)


def test_an_evaluation_job_shows_its_progress_in_the_runs_table(qtbot, sup, tmp_path):
    """Issue #13 bug 8: evaluation jobs had no progress bar; the runs table now shows their own progress."""
    from workbench.ui.widgets.run_table import RunTableModel

    sup.eval_command = fake_eval_command
    run = make_run(tmp_path, 5, mode="eval_wait")
    run = Run(5, "mah", {"method": "mah_dpo"}, "finished", run.run_dir, error="")
    table = RunTableModel(sup.live)
    table.set_runs([run])
    sup.start_eval(run, "/r/ck-10", [{"a": 1.0}, {"a": 0.5}, {"a": 0.0}])
    qtbot.waitUntil(lambda: sup.live(5) is not None and sup.live(5).phase_progress == pytest.approx(1 / 3),
                    timeout=20_000)
    values = table.values(run)
    assert values["State"] == "evaluating: mixture 2"
    assert values["Progress"] == pytest.approx(1 / 3)
    sup.stop(5)
    qtbot.waitUntil(lambda: sup.live(5) is None, timeout=20_000)
    assert table.values(run)["State"] == "finished"


def test_the_method_column_says_what_a_reward_model_run_trains():
    """Found under Xvfb: a PRM run showed "dpo" (the default method it never uses) in the runs table."""
    from workbench.ui.widgets.run_table import RunTableModel

    table = RunTableModel(lambda run_id: None)
    configs = [{"method": "mah_dpo"}, {"kind": "prm", "method": "dpo", "prm_head": "implicit"},
               {"kind": "prm", "method": "dpo"}, {"kind": "reward_model", "method": "dpo"}]
    runs = [Run(i, f"r{i}", cfg, "finished", "/r", error="") for i, cfg in enumerate(configs, start=1)]
    assert [table.values(run)["Method"] for run in runs] == ["mah_dpo", "PRM (implicit head)",
                                                             "PRM (classifier head)", "reward model"]


def test_a_run_one_step_short_of_the_end_does_not_read_100_percent():
    from workbench.ui.widgets.run_table import RunTableModel

    table = RunTableModel(lambda run_id: None)
    run = Run(1, "r", {"method": "dpo", "max_steps": 400}, "running", "/r", error="", last_step=399)
    table.set_runs([run])
    assert table.data(table.index(0, list(table.values(run)).index("Progress"))) == "99.8%"
