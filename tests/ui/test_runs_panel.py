"""Runs panel: the New Run dialog builds the right RunConfig; launching goes through the supervisor; stop and kill;
a worker streaming 10,000 metric events leaves the event loop responsive and the plot holds every point."""

from __future__ import annotations

import dataclasses
import gc
import json
import sys
import threading
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
from workbench.ui.widgets.objective_sources import AdapterChoice

FAKE = Path(__file__).with_name("fake_worker.py")
OBJECTIVES = ["helpful", "harmless", "concise"]
# Checkpoints of earlier runs: two single-objective runs on "harmless" (the newer one, run 3, is the natural
# soup ingredient) and one on "concise".
ADAPTERS = [AdapterChoice("harm-old @ step 50", "/runs/harm-old/ck-50", ("harmless",), 1, 50),
            AdapterChoice("harm @ step 40", "/runs/harm/ck-40", ("harmless",), 3, 40),
            AdapterChoice("harm @ step 80", "/runs/harm/ck-80", ("harmless",), 3, 80),
            AdapterChoice("conc @ step 60", "/runs/conc/ck-60", ("concise",), 2, 60),
            AdapterChoice("mix @ step 60", "/runs/mix/ck-60", ("helpful", "concise"), 4, 60)]


def fake_command(run_dir: Path) -> tuple[str, list[str]]:
    return sys.executable, [str(FAKE), "--run-dir", str(run_dir)]


@pytest.fixture
def dialog(qtbot, tmp_path):
    model = tmp_path / "tiny-model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 512,
                                                   "intermediate_size": 256, "num_attention_heads": 4}))
    dlg = NewRunDialog(OBJECTIVES, [str(model)], train_pairs=200, adapters=ADAPTERS,
                       scorers=["length_tokens", "numeric_answer_match"])
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
    assert "MODPO: choose where the margin of harmless, concise comes from" in dialog.problems_label.text()
    assert not dialog.start_button.isEnabled()
    dialog.margin_table.choose("harmless", ("scorer", "length_tokens"))
    dialog.margin_table.choose("concise", ("scorer", "length_tokens"))
    assert dialog.start_button.isEnabled()


def test_modpo_margins_come_from_adapters_and_scorers(dialog):
    dialog.method.setCurrentText("modpo")
    assert not dialog.modpo_box.isHidden() and dialog.soup_box.isHidden()
    dialog.modpo_target.setCurrentText("harmless")
    assert list(dialog.margin_table.combos) == ["helpful", "concise"]  # the target gives no margin
    dialog.margin_table.choose("helpful", ("adapter", "/runs/mix/ck-60"))
    dialog.margin_table.choose("concise", ("scorer", "length_tokens"))
    dialog.objective_table.spins["harmless"].setValue(2.0)
    cfg = dialog.config()
    assert (cfg.method, cfg.modpo_target) == ("modpo", "harmless")
    assert cfg.margin_adapters == {"helpful": "/runs/mix/ck-60"}
    assert cfg.margin_scorers == {"concise": "length_tokens"}
    assert cfg.weights == {"helpful": 1.0, "harmless": 2.0, "concise": 1.0}
    assert cfg.soup_adapters == {} and dialog.problems() == []
    dialog.method.setCurrentText("dpo")  # the MODPO-only settings are not sent with another method
    assert dialog.config().margin_adapters == {} and dialog.config().modpo_target == ""


def test_soup_preselects_each_objectives_latest_single_objective_adapter(dialog):
    dialog.method.setCurrentText("soup")
    assert not dialog.soup_box.isHidden()
    assert "soup: choose an adapter for helpful" in dialog.problems_label.text()  # no run trained on it alone
    table = dialog.objective_table
    table.item(0, 0).setCheckState(table.item(0, 0).checkState().Unchecked)  # drop "helpful"
    cfg = dialog.config()
    assert cfg.soup_adapters == {"harmless": "/runs/harm/ck-80", "concise": "/runs/conc/ck-60"}
    assert cfg.objectives == ["harmless", "concise"] and dialog.problems() == []


def test_evaluation_scorers_and_sweep_settings(dialog):
    dialog.eval_table.choose("concise", ("scorer", "length_tokens"))
    dialog.forms["Evaluation"].editors["eval_prompts"].setValue(32)
    dialog.forms["Evaluation"].editors["sweep_points"].setValue(7)
    cfg = dialog.config()
    assert cfg.eval_scorers == {"concise": "length_tokens"}  # others: held-out accuracy
    assert (cfg.eval_prompts, cfg.sweep_points) == (32, 7)
    again = NewRunDialog(OBJECTIVES, [], initial=cfg, adapters=ADAPTERS, scorers=["length_tokens"])
    assert again.config().eval_scorers == {"concise": "length_tokens"}  # a clone keeps them
    again.deleteLater()


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


def runqueue_wait_s() -> float:
    """Seconds the calling thread has spent runnable but waiting for a CPU (Linux /proc schedstat, field 2;
    0 where the kernel does not report it, so the measured gaps are then plain wall-clock gaps)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as fh:
            return int(fh.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


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
    ticks: list[tuple[float, float]] = []  # (wall time, seconds this thread has waited for a CPU so far)
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append((time.perf_counter(), runqueue_wait_s())))
    timer.start()
    done = []
    ctx.supervisor.run_state_changed.connect(lambda rid, st: done.append(st))
    t_start = time.perf_counter()
    ctx.supervisor.start(run)
    t_started = time.perf_counter()
    qtbot.waitUntil(lambda: "finished" in done, timeout=60_000)
    qtbot.waitUntil(plots.is_current, timeout=10_000)  # the plot timer draws the last batch
    timer.stop()
    wall = np.array([t for t, _ in ticks])
    gaps = np.diff(wall) * 1000
    # The loop's own latency: a gap minus the time the OS kept this runnable thread off the CPU (the machine is
    # shared; other processes' load is not the GUI's blocking). Linux reports that wait in schedstat.
    own = gaps - np.diff([w for _, w in ticks]) * 1000
    worst = int(np.argmax(own))
    print(f"\n{n} metric events: {len(ticks)} ticks, longest gap {gaps.max():.1f} ms wall, "
          f"{own.max():.1f} ms excluding CPU-queue waits (median {np.median(own):.1f} ms); "
          f"start() took {1000 * (t_started - t_start):.1f} ms; worst began {1000 * (wall[worst] - t_start):.0f} ms "
          f"after start")
    gc.unfreeze()
    assert own.max() < 50.0
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
        self.spec: dict = {"mode": "wait"}  # what the fake worker of the next created run does

    def session(self):
        from contextlib import nullcontext

        return nullcontext(self)

    def close(self) -> None:
        pass

    def overview(self, s):
        return list(self.runs.values()), ["helpful"], [], (10, 0)

    def create(self, s, cfg: RunConfig, runs_root: Path) -> Run:
        rid = len(self.runs) + 1
        run_dir = runs_root / f"{rid:04d}-{cfg.name}"
        run_dir.mkdir(parents=True)
        (run_dir / "config.json").write_text(cfg.to_json())
        (run_dir / "fake.json").write_text(json.dumps({"run": str(rid), **self.spec}))
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
    monkeypatch.setattr(rp, "load_checkpoints", lambda s: [])
    monkeypatch.setattr(rp, "label_counts", lambda s, cfg: {o: (100, 10) for o in (cfg.objectives or ["helpful"])})
    ctx.supervisor.command = fake_command
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
    # Issue #13 bug 1: the resumed worker is asked to continue from the last checkpoint
    argv = Path(fake.runs[1].run_dir) / "argv.txt"
    qtbot.waitUntil(lambda: len(argv.read_text().splitlines()) == 2, timeout=10_000)
    launches = argv.read_text().splitlines()
    assert "--resume" not in launches[0] and launches[1].endswith("--resume")


def test_stop_on_a_slow_step_says_so_and_ends_with_a_checkpoint(qtbot, ctx, wired):
    panel, fake = wired
    fake.spec = {"mode": "slow_stop", "delay": 1}
    panel.launch(RunConfig(name="slow", model="/m"))
    qtbot.waitUntil(lambda: ctx.supervisor.live(1) is not None and ctx.supervisor.live(1).state == "training",
                    timeout=10_000)
    panel.select_runs([1])
    panel.stop_action.trigger()
    assert "stopping after step 1" in panel.log_view.toPlainText()
    assert panel.model.values(fake.runs[1])["State"] == "stopping"
    qtbot.waitUntil(lambda: not ctx.supervisor.is_running(1), timeout=10_000)
    assert (Path(fake.runs[1].run_dir) / "checkpointed").exists()
    assert "ENDED   stopped at step 3" in panel.log_view.toPlainText()


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
    monkeypatch.setattr(rp, "load_checkpoints", lambda s: [])
    monkeypatch.setattr(rp, "label_counts", lambda s, cfg: {o: (100, 10) for o in (cfg.objectives or ["helpful"])})
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


def test_new_run_takes_epsilon_from_the_agreement_estimate(qtbot, ctx, wired):
    from workbench.ui.dialogs.agreement_dialog import EPSILON_KEY, EPSILON_PROJECT_KEY

    panel, fake = wired
    ctx.settings.setValue(EPSILON_KEY, 0.12)
    ctx.settings.setValue(EPSILON_PROJECT_KEY, str(fake.path))
    dlg = panel.new_run()  # a child of the panel, deleted on close
    assert dlg.config().label_smoothing == pytest.approx(0.12)
    assert "ε (label smoothing) = 0.12" in dlg.epsilon_note.text() and not dlg.epsilon_note.isHidden()
    dlg.reject()
    ctx.settings.setValue(EPSILON_PROJECT_KEY, "/another/project.sqlite")  # an estimate of another project
    other = panel.new_run()
    assert other.config().label_smoothing == 0.0 and other.epsilon_note.isHidden()
    other.reject()


def test_several_runs_overlay_in_grouped_plots_with_ema_and_raw_shadow(qtbot):
    """Two runs selected: one plot per prefix group holding both runs' curves (a colour per run, a dash per key),
    each smoothed curve the series' EMA over its raw shadow; the legend names the runs, the title the keys."""
    from workbench.core.series import SeriesStore
    from workbench.ui.theme import series_color

    stores = {1: SeriesStore(), 2: SeriesStore()}
    steps = np.arange(1, 301)
    for rid in (1, 2):
        stores[rid].series("loss").append_many(steps, 1.0 / steps + rid)
        stores[rid].series("rewards/chosen").append_many(steps, np.sin(steps / 20.0) * rid)
        stores[rid].series("rewards/rejected").append_many(steps, -np.cos(steps / 20.0) * rid)
        stores[rid].series("helpful/accuracy").append_many(steps, np.linspace(0.5, 0.8, 300))
    plots = MetricPlots(lambda rid: stores[rid])
    qtbot.addWidget(plots)
    plots.set_runs([1, 2], {1: "base", 2: "mix"})
    qtbot.waitUntil(plots.is_current, timeout=10_000)
    assert set(plots.plots) == {"loss", "rewards", "helpful"}
    for rid in (1, 2):
        for key in ("rewards/chosen", "rewards/rejected"):
            x, y = plots.curve_data(rid, key, raw=True)
            np.testing.assert_array_equal(y, stores[rid].get(key).values)
            _, smooth = plots.curve_data(rid, key, raw=False)
            np.testing.assert_allclose(smooth, stores[rid].get(key).ema(plots.smoothing))
        pen = plots.curves[(rid, "rewards/chosen")].smooth.opts["pen"]
        assert pen.color().name() == series_color(rid - 1).name()  # a colour per run
    styles = {plots.curves[(1, k)].smooth.opts["pen"].style() for k in ("rewards/chosen", "rewards/rejected")}
    assert len(styles) == 2  # a dash style per key
    legend = [label.text for _, label in plots.plots["rewards"].getPlotItem().legend.items]
    assert sorted(legend) == ["base", "mix"]
    title = plots.plots["rewards"].getPlotItem().titleLabel.text
    assert "—— chosen" in title and "– – rejected" in title
    plots.slider.setValue(0)  # no smoothing: the raw values drawn as the curve, no shadow
    qtbot.waitUntil(plots.is_current, timeout=10_000)
    _, y = plots.curve_data(2, "loss", raw=False)
    np.testing.assert_array_equal(y, 1.0 / steps + 2)
    plots.stop()


def test_an_old_runs_log_is_read_from_its_events_file_and_crashed_runs_are_resumable(qtbot, ctx, wired, tmp_path):
    from workbench.core.protocol import encode

    panel, fake = wired
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    (run_dir / "events.jsonl").write_text(
        encode("status", "7", state="training", message="", step=0) +
        encode("checkpoint", "7", step=50, path="checkpoints/step-50") +
        encode("log", "7", level="warning", message="loss spiked at step 61") +
        encode("ended", "7", reason="crashed", error="out of memory", step=61))
    fake.runs[7] = Run(7, "old", RunConfig().to_dict(), "crashed", str(run_dir), error="out of memory")
    panel.reload()
    qtbot.waitUntil(lambda: panel.model.row_of(7) >= 0, timeout=5000)
    panel.select_runs([7])
    qtbot.waitUntil(lambda: "ENDED   crashed" in panel.log_view.toPlainText(), timeout=5000)
    text = panel.log_view.toPlainText()
    assert "SAVED   step 50 → checkpoints/step-50" in text and "WARNING loss spiked at step 61" in text
    assert panel.start_action.isEnabled() and not panel.stop_action.isEnabled()  # crashed: resumable


def test_plots_follow_a_switch_to_the_dark_palette(qtbot, qapp):
    from workbench.core.series import SeriesStore
    from workbench.ui.theme import plot_colors, set_dark

    store = SeriesStore()
    store.series("loss").append_many(np.arange(1, 11), np.linspace(1, 0.1, 10))
    plots = MetricPlots(lambda rid: store)
    qtbot.addWidget(plots)
    plots.show()
    plots.set_runs([1], {1: "r"})
    qtbot.waitUntil(plots.is_current, timeout=5000)
    light = plots.plots["loss"].backgroundBrush().color().name()
    try:
        set_dark(qapp, True)  # Qt posts the PaletteChange: the plots are rebuilt when it is delivered
        dark = plot_colors()[0].name()
        assert dark != light
        qtbot.waitUntil(lambda: "loss" in plots.plots and plots.plots["loss"].backgroundBrush().color().name()
                        == dark and plots.is_current(), timeout=5000)
        x, y = plots.curve_data(1, "loss")
        assert len(x) == 10  # rebuilt with the same data
    finally:
        set_dark(qapp, False)
    plots.stop()


def test_long_curves_are_drawn_as_their_envelope_until_zoomed(qtbot):
    from workbench.core.series import SeriesStore
    from workbench.ui.widgets.metric_plots import ENVELOPE_BINS, peak_envelope

    x = np.arange(10, dtype=float)
    y = np.array([3.0, 1.0, 2.0, 5.0, np.nan, 4.0, 0.0, 9.0, 7.0, 8.0])
    ex, ey = peak_envelope(x, y, bins=3)  # k = 4: bins [0..3], [4..7], then the 2 newest points as they are
    np.testing.assert_array_equal(ex, [0, 0, 4, 4, 8, 9])
    np.testing.assert_array_equal(ey, [1, 5, 0, 9, 7, 8])  # the NaN is ignored inside a bin
    n = 50_000
    store = SeriesStore(max_points_per_series=2 * n)
    steps = np.arange(1, n + 1)
    values = np.sin(steps / 500.0) + 0.1 * np.cos(steps)
    store.series("loss").append_many(steps, values)
    plots = MetricPlots(lambda rid: store)
    qtbot.addWidget(plots)
    plots.show()
    plots.set_runs([1], {1: "long"})
    qtbot.waitUntil(plots.is_current, timeout=5000)
    curve = plots.curves[(1, "loss")]
    handed_x, handed_y = curve.raw.getOriginalDataset()
    assert len(handed_x) <= 2 * ENVELOPE_BINS + 50 and handed_y.max() == values.max()  # the envelope keeps peaks
    assert handed_y.min() == values.min() and handed_x[-1] == n  # ... and the newest step
    x_all, y_all = plots.curve_data(1, "loss")  # what the curve stands for: every point
    assert len(x_all) == n and np.array_equal(y_all, values)
    plot = plots.plots["loss"]
    plot.getViewBox().setXRange(1000, 2000)  # a zoom: pyqtgraph turns x auto-range off ...
    plots._on_manual_range(plot)  # ... and signals it (sigRangeChangedManually, as a mouse zoom does)
    qtbot.waitUntil(plots.is_current, timeout=5000)
    assert len(curve.raw.getOriginalDataset()[0]) == n  # zoomed in: every point, exact detail
    plots.stop()


def test_scoring_pairs_for_active_labelling_shows_progress_eta_and_stops(qtbot, ctx, wired):
    """Issue #13 bug 7: the pass after training shows its own progress and ETA (not 100 % and 0 s); Stop cuts it
    short and the run still ends finished."""
    panel, fake = wired
    fake.spec = {"mode": "margins", "n": 4}
    panel.launch(RunConfig(name="m", model="/m", max_steps=4))
    sup = ctx.supervisor
    qtbot.waitUntil(lambda: sup.live(1) is not None and sup.live(1).phase_progress == 0.5, timeout=10_000)
    values = panel.model.values(fake.runs[1])
    assert values["State"] == "evaluating: scoring pairs for active labelling"
    assert values["Progress"] == 0.5
    eta = sup.live(1).eta_s
    assert eta is not None and 0.0 < eta < 10.0  # elapsed × (1 − 0.5) / 0.5, elapsed as the GUI received them
    assert values["ETA"] != ""
    panel.select_runs([1])
    panel.stop_action.trigger()
    assert "stopping: scoring pairs for active labelling is cut short" in panel.log_view.toPlainText()
    qtbot.waitUntil(lambda: not sup.is_running(1), timeout=10_000)
    assert sup.live(1).state == "finished"
    assert "stopped before the pair margins were written" in panel.log_view.toPlainText()


def test_new_run_scores_pairs_for_active_labelling_only_when_that_order_is_in_use(qtbot, ctx, wired):
    from workbench.services.label_session import ORDER_KEY

    panel, _ = wired
    dlg = panel.new_run()
    assert dlg.config().active_candidates == 0
    assert dlg.forms["Evaluation"].editors["active_candidates"].value() == 0  # visible, and can be turned on
    dlg.reject()
    ctx.settings.setValue(ORDER_KEY, "active")
    dlg = panel.new_run()
    assert dlg.config().active_candidates == RunConfig().active_candidates > 0
    dlg.reject()


def test_launch_warns_when_an_objective_has_too_few_labels(qtbot, ctx, wired, monkeypatch):
    """Issue #13: a warning before launch (the numbers come from store.run_readiness); Cancel starts nothing."""
    import workbench.ui.panels.runs_panel as rp

    panel, fake = wired
    monkeypatch.setattr(rp, "label_counts", lambda s, cfg: {"helpful": (2, 0)})
    asked: list[list[str]] = []
    answers = [False, True]

    async def confirm(warnings):
        asked.append(warnings)
        return answers.pop(0)

    panel.confirm_launch = confirm
    panel.launch(RunConfig(name="few", model="/m", objectives=["helpful"], batch_size=4))
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=5000)
    assert asked[0] == ["helpful: only 2 training pairs, fewer than one batch (4)",
                        "helpful: no held-out pair, so its accuracy and margin cannot be evaluated (label more "
                        "pairs or raise eval_fraction)"]
    qtbot.wait(200)
    assert fake.runs == {}  # cancelled: no run
    panel.launch(RunConfig(name="few", model="/m", objectives=["helpful"], batch_size=4))
    qtbot.waitUntil(lambda: 1 in fake.runs and ctx.supervisor.is_running(1), timeout=10_000)


def test_a_new_run_starts_on_the_projects_latest_model(qtbot, ctx, wired, monkeypatch):
    """Found under Xvfb: with a model added in the Models panel, New Run opened with an empty Model field and
    "choose a model" in red; the latest model the project has is now filled in (a clone keeps its own)."""
    panel, fake = wired
    monkeypatch.setattr("workbench.ui.panels.runs_panel.load_overview",
                        lambda s: (list(fake.runs.values()), ["helpful"], ["/somewhere/older", "/models/newest"],
                                   (10, 0)))
    panel.reload()
    qtbot.waitUntil(lambda: len(panel.models) == 2, timeout=5000)
    dlg = panel.new_run()
    assert dlg.config().model == "/models/newest" and not any("choose a model" in p for p in dlg.problems())
    dlg.reject()
    clone = panel.new_run(RunConfig(name="copy", model="/somewhere/older"))
    assert clone.config().model == "/somewhere/older"
    clone.reject()


def test_a_project_without_models_starts_on_the_installed_smollm2(qtbot, ctx, wired, monkeypatch, tmp_path):
    """Found on the demo project under Xvfb: no model in the project, so New Run opened empty although SmolLM2 is
    installed for offline use; it is now offered and chosen. Without it the field stays empty (and says why)."""
    panel, fake = wired
    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    monkeypatch.setattr("workbench.ui.panels.runs_panel.smollm2_gguf", lambda: gguf)
    dlg = panel.new_run()
    assert dlg.config().model == str(gguf) and dlg.model.findText(str(gguf)) >= 0
    dlg.reject()
    monkeypatch.setattr("workbench.ui.panels.runs_panel.smollm2_gguf", lambda: None)
    bare = panel.new_run()
    assert bare.config().model == "" and any("choose a model" in p for p in bare.problems())
    bare.reject()
