"""Runs panel: the New Run dialog builds the right RunConfig; launching goes through the supervisor; stop and kill;
a worker streaming 10,000 metric events leaves the event loop responsive and the plot holds every point."""

from __future__ import annotations

import dataclasses
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from workbench.app import freeze_startup_heap
from workbench.core.entities import Run
from workbench.core.run_config import RunConfig, help_text
from workbench.services.run_presets import PRESETS
from workbench.ui.dialogs.new_run_dialog import NewRunDialog
from workbench.ui.panels.runs_panel import RunsPanel
from workbench.ui.widgets.metric_plots import MetricPlots

FAKE = Path(__file__).with_name("fake_worker.py")
OBJECTIVES = ["helpful", "harmless", "concise"]


def fake_command(run_dir: Path) -> tuple[str, list[str]]:
    return sys.executable, [str(FAKE), "--run-dir", str(run_dir)]


@pytest.fixture
def dialog(qtbot, tmp_path):
    model = tmp_path / "tiny-model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 512,
                                                   "intermediate_size": 256, "num_attention_heads": 4}))
    dlg = NewRunDialog(OBJECTIVES, [str(model)], train_pairs=200)
    qtbot.addWidget(dlg)
    dlg.model.setCurrentText(str(model))
    return dlg


def test_default_dialog_is_plain_dpo_on_all_objectives(dialog):
    cfg = dialog.config()
    expected = dataclasses.replace(RunConfig(), name=cfg.name, model=dialog.model.currentText())
    assert cfg == expected  # every untouched field keeps RunConfig's default
    assert dialog.start_button.isEnabled()


def test_mah_dpo_preset_with_edits_builds_the_config(dialog):
    dialog.preset.setCurrentText("Multi-objective MAH-DPO")
    dialog.name.setText("mah-1")
    dialog.objective_table.spins["helpful"].setValue(2.0)
    dialog.forms["Optimisation"].editors["learning_rate"].setText("3e-4")
    dialog.forms["LoRA"].editors["lora_r"].setValue(8)
    dialog.forms["Optimisation"].editors["precision"].setCurrentText("bf16")
    cfg = dialog.config()
    assert cfg.method == "mah_dpo" and cfg.name == "mah-1"
    assert cfg.objectives == OBJECTIVES
    assert cfg.weights == {"helpful": 2.0, "harmless": 1.0, "concise": 1.0}
    assert cfg.learning_rate == pytest.approx(3e-4) and cfg.lora_r == 8 and cfg.precision == "bf16"
    assert cfg.head_rank == PRESETS["Multi-objective MAH-DPO"]["head_rank"]
    assert cfg.problems() == []


def test_losses_and_quick_cpu_preset(dialog):
    dialog.preset.setCurrentText("Quick CPU test")
    table = dialog.loss_table
    row = [table.item(r, 0).text() for r in range(table.rowCount())].index("ipo")
    table.item(row, 0).setCheckState(table.item(row, 0).checkState().Checked)
    table.spins["ipo"].setValue(0.5)
    cfg = dialog.config()
    assert cfg.losses == {"sigmoid": 1.0, "ipo": 0.5}
    assert cfg.device == "cpu" and cfg.max_steps == 20 and cfg.batch_size == 2


def test_tooltips_are_the_field_help(dialog):
    helps = help_text()
    for form in dialog.forms.values():
        for name, editor in form.editors.items():
            assert editor.toolTip() == helps[name]


def test_problems_disable_start(dialog):
    dialog.forms["Data"].editors["max_prompt_length"].setValue(600)  # >= max_length 512
    assert not dialog.start_button.isEnabled()
    assert "max_prompt_length must be smaller than max_length" in dialog.problems_label.text()
    dialog.forms["Data"].editors["max_prompt_length"].setValue(128)
    dialog.method.setCurrentText("modpo")
    assert "MODPO" in dialog.problems_label.text()
    dialog.forms["Multi-objective"].editors["modpo_target"].setText("helpful")
    assert dialog.start_button.isEnabled()


def test_estimate_is_shown_before_launch(dialog):
    text = dialog.estimate_label.text()
    assert text.startswith("Estimate: ≈") and "GiB" in text and "steps" in text
    dialog.forms["Optimisation"].editors["max_steps"].setValue(77)
    assert "for 77 steps" in dialog.estimate_label.text()


def test_clone_opens_the_dialog_with_the_runs_settings(qtbot, ctx):
    panel = RunsPanel(ctx)
    qtbot.addWidget(panel)
    cfg = RunConfig(name="base", model="/m", method="weighted", objectives=["a", "b"], weights={"a": 1, "b": 3})
    panel.model.set_runs([Run(9, "base", cfg.to_dict(), "stopped", "/tmp/x")])
    ctx.project = object()  # clone only needs a project to be open; no store call happens before Start
    panel.objectives = ["a", "b"]
    panel.select_runs([9])
    dlg = panel.clone_selected()
    qtbot.addWidget(dlg)
    got = dlg.config()
    assert got == dataclasses.replace(cfg, name="base-copy", weights={"a": 1.0, "b": 3.0})
    ctx.project = None


def test_streaming_10000_metrics_keeps_the_loop_responsive(qtbot, ctx, tmp_path):
    """The Runs panel's plot widget on the supervisor's live series, fed by a real child process."""
    n = 10_000
    ctx.supervisor.command = fake_command
    plots = MetricPlots(ctx.supervisor.series)
    qtbot.addWidget(plots)
    plots.resize(1100, 800)
    plots.show()
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    (run_dir / "fake.json").write_text(json.dumps({"run": "1", "mode": "metrics", "n": n}))
    run = Run(1, "stream", {"method": "dpo"}, "running", str(run_dir))
    plots.set_runs([1], {1: "stream"})
    freeze_startup_heap()  # what app.main does once the window is up
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    done = []
    ctx.supervisor.run_state_changed.connect(lambda rid, st: done.append(st))
    t_start = time.perf_counter()
    ctx.supervisor.start(run)
    t_started = time.perf_counter()
    qtbot.waitUntil(lambda: "finished" in done, timeout=60_000)
    qtbot.waitUntil(plots.is_current, timeout=10_000)  # the plot timer draws the last batch
    timer.stop()
    gaps = np.diff(ticks) * 1000
    print(f"\n{n} metric events: {len(ticks)} ticks, longest gap {gaps.max():.1f} ms, "
          f"median {np.median(gaps):.1f} ms; start() took {1000 * (t_started - t_start):.1f} ms; "
          f"worst gap began {1000 * (ticks[int(np.argmax(gaps))] - t_start):.0f} ms after start")
    gc.unfreeze()
    assert gaps.max() < 50.0
    x, y = plots.curve_data(1, "loss", raw=True)
    np.testing.assert_array_equal(x, np.arange(1, n + 1, dtype=float))
    np.testing.assert_allclose(y, 1.0 / np.arange(1, n + 1))
    xs, ys = plots.curve_data(1, "rewards/margins", raw=True)
    assert len(xs) == n and ys[-1] == pytest.approx((n - 1) / n)
    assert set(plots.plots) == {"loss", "rewards", "eta_s"}  # one plot per group, not per key
    sx, sy = plots.curve_data(1, "loss", raw=False)  # the smoothed curve is the series' EMA
    np.testing.assert_allclose(sy, ctx.supervisor.series(1).get("loss").ema(plots.smoothing))
    plots.stop()


class FakeRuns:
    """Stands in for the store's run table behind the panel's DB functions (the panel's own logic is under test;
    the store has its own tests). `session` is what DbExecutor passes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs: dict[int, Run] = {}
        self.path = root / "project.sqlite"

    def session(self):
        from contextlib import nullcontext

        return nullcontext(self)

    def close(self) -> None:
        pass

    def overview(self, s):
        return list(self.runs.values()), ["helpful"], [], 10

    def create(self, s, cfg: RunConfig, runs_root: Path) -> Run:
        rid = len(self.runs) + 1
        run_dir = runs_root / f"{rid:04d}-{cfg.name}"
        run_dir.mkdir(parents=True)
        (run_dir / "config.json").write_text(cfg.to_json())
        (run_dir / "fake.json").write_text(json.dumps({"run": str(rid), "mode": "wait"}))
        self.runs[rid] = Run(rid, cfg.name, cfg.to_dict(), "created", str(run_dir))
        return self.runs[rid]

    def mark_running(self, s, run_id: int) -> None:
        self.runs[run_id] = dataclasses.replace(self.runs[run_id], status="running")

    def set_status(self, s, run_id: int, status: str, error: str) -> None:
        self.runs[run_id] = dataclasses.replace(self.runs[run_id], status=status, error=error)

    def ingest(self, s, run_id: int, path: Path) -> int:
        self.ingested = len(path.read_text().splitlines())
        return self.ingested


@pytest.fixture
def wired(qtbot, ctx, tmp_path, monkeypatch):
    import workbench.ui.panels.runs_panel as rp

    fake = FakeRuns(tmp_path)
    monkeypatch.setattr(rp, "load_overview", fake.overview)
    monkeypatch.setattr(rp, "create_run", fake.create)
    monkeypatch.setattr(rp, "mark_running", fake.mark_running)
    ctx.supervisor.command = fake_command
    ctx.supervisor.grace_ms = 300
    ctx.supervisor.set_run_status = fake.set_status
    ctx.supervisor.ingest_events_file = fake.ingest
    ctx.project = fake
    ctx.db.set_project(fake)
    panel = RunsPanel(ctx)
    qtbot.addWidget(panel)
    yield panel, fake
    for rid in ctx.supervisor.running_ids():
        ctx.supervisor.kill(rid)
    qtbot.waitUntil(lambda: not ctx.supervisor.running_ids(), timeout=10_000)
    ctx.db.set_project(None)
    ctx.project = None


def test_start_from_the_dialog_launches_through_the_supervisor(qtbot, ctx, wired):
    panel, fake = wired
    started: list[int] = []
    original = ctx.supervisor.start
    ctx.supervisor.start = lambda run: (started.append(run.id), original(run))
    dlg = panel.new_run()
    dlg.name.setText("first")
    dlg.model.setCurrentText("/models/tiny")
    dlg.accept()
    qtbot.waitUntil(lambda: ctx.supervisor.is_running(1), timeout=10_000)
    assert started == [1]
    run_dir = Path(fake.runs[1].run_dir)
    assert RunConfig.load(run_dir / "config.json") == dataclasses.replace(dlg.config(), name="first")
    assert fake.runs[1].status == "running"
    assert panel.selected_ids() == [1] and panel.model.values(fake.runs[1])["Name"] == "first"
    qtbot.waitUntil(lambda: "STATUS  training" in panel.log_view.toPlainText(), timeout=10_000)


def test_stop_button_stops_cooperatively_and_resume_restarts(qtbot, ctx, wired):
    panel, fake = wired
    panel.launch(RunConfig(name="a", model="/m"))
    qtbot.waitUntil(lambda: ctx.supervisor.live(1) is not None and ctx.supervisor.live(1).state == "training",
                    timeout=10_000)
    panel.select_runs([1])
    assert panel.stop_action.isEnabled() and not panel.start_action.isEnabled()
    panel.stop_action.trigger()
    qtbot.waitUntil(lambda: not ctx.supervisor.is_running(1), timeout=10_000)
    assert (Path(fake.runs[1].run_dir) / "got_stop").exists()
    assert ctx.supervisor.live(1).state == "stopped"
    assert "ENDED   stopped" in panel.log_view.toPlainText()
    qtbot.waitUntil(lambda: fake.runs[1].status == "stopped", timeout=5000)  # the supervisor recorded it
    assert fake.ingested == 2  # status + ended lines of events.jsonl went to the store
    panel.reload()
    panel.select_runs([1])
    assert panel.start_action.isEnabled()
    panel.start_action.trigger()
    qtbot.waitUntil(lambda: ctx.supervisor.is_running(1), timeout=10_000)


def test_kill_button_kills(qtbot, ctx, wired):
    panel, fake = wired
    panel.launch(RunConfig(name="k", model="/m"))
    (Path(fake.runs[1].run_dir) / "fake.json").write_text(json.dumps({"run": "1", "mode": "ignore_stop"}))
    qtbot.waitUntil(lambda: ctx.supervisor.is_running(1), timeout=10_000)
    panel.select_runs([1])
    t0 = time.monotonic()
    panel.kill_action.trigger()
    qtbot.waitUntil(lambda: not ctx.supervisor.is_running(1), timeout=10_000)
    assert time.monotonic() - t0 < 2.0


def test_reload_runs_as_a_task_on_the_qasync_loop(qtbot, qapp, ctx, tmp_path, monkeypatch):
    """In the app, slots schedule coroutines on qasync's loop (run_task) and the DB result comes back to it."""
    import asyncio

    import qasync

    import workbench.ui.panels.runs_panel as rp

    fake = FakeRuns(tmp_path)
    fake.runs[1] = Run(1, "from-db", RunConfig().to_dict(), "finished", str(tmp_path))
    threads = []
    monkeypatch.setattr(rp, "load_overview", lambda s: (threads.append(ctx.db.on_db_thread()), fake.overview(s))[1])
    panel = RunsPanel(ctx)  # no project yet: nothing loaded
    qtbot.addWidget(panel)
    ctx.project = fake
    ctx.db.set_project(fake)
    loop = qasync.QEventLoop(qapp)

    async def scenario() -> int:
        panel.reload()  # returns at once; the load runs as a task
        assert panel.model.rowCount() == 0
        for _ in range(200):
            await asyncio.sleep(0.01)
            if panel.model.rowCount():
                break
        return panel.model.rowCount()

    try:
        with loop:
            assert loop.run_until_complete(scenario()) == 1
    finally:
        ctx.db.set_project(None)
        ctx.project = None
    assert panel.model.runs[0].name == "from-db" and threads == [True]
