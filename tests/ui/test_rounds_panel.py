"""Rounds panel and the rounds path on the Trade-offs plot: the per-round table shows the store's numbers, the
step buttons follow the round's next step, a step's progress lines become a fraction + ETA, Cancel stops it, and
each round's reward vector is a vertex of one connected path in round order."""

from __future__ import annotations

import sys

import pytest

from workbench.core.entities import Checkpoint, Evaluation, Run
from workbench.core.rounds import RoundSettings
from workbench.services.rounds import RoundProcess, load_rounds, parse_progress
from workbench.services.tradeoffs import build_table
from workbench.ui.panels.rounds_panel import RoundsPanel, round_rows
from workbench.ui.panels.tradeoffs_panel import TradeoffsPanel
from workbench.ui.widgets.rounds_path import round_points


def _tradeoffs_table():
    runs = {i: Run(i, f"round {i}", {}, "finished", f"/tmp/r{i}") for i in (1, 2, 3)}
    ckpts = {10 + i: Checkpoint(10 + i, i, 2, "checkpoints/step-2") for i in (1, 2, 3)}
    evs = []
    for i, (brevity, detail) in zip((1, 2, 3), [(9.0, 3.0), (7.0, 4.0), (5.0, 4.5)]):
        evs += [Evaluation(2 * i, "brevity", "score", brevity, run_id=i, checkpoint_id=10 + i),
                Evaluation(2 * i + 1, "detail", "score", detail, run_id=i, checkpoint_id=10 + i),
                # a held-out evaluation during training (no checkpoint) is not the round's point
                Evaluation(100 + i, "brevity", "score", 99.0, run_id=i)]
    return build_table(evs, {"brevity": "minimize", "detail": "maximize"}, runs, ckpts)


def test_round_points_follow_round_order():
    table = _tradeoffs_table()
    axes = ("brevity · score", "detail · score")
    assert round_points(table, [(1, 1), (2, 2), (3, 3)], axes) == [(1, 9.0, 3.0), (2, 7.0, 4.0), (3, 5.0, 4.5)]
    assert round_points(table, [(1, 3), (2, 9)], axes) == [(1, 5.0, 4.5)]  # run 9 has no point


def test_tradeoffs_plot_draws_the_rounds_path(qtbot, ctx):
    panel = TradeoffsPanel(ctx)
    qtbot.addWidget(panel)
    panel.rounds_path.round_runs = [(1, 1), (2, 2), (3, 3)]
    panel.set_table(_tradeoffs_table())
    axes = panel.table.axes
    panel.x_combo.setCurrentIndex(axes.index("brevity · score"))
    panel.y_combo.setCurrentIndex(axes.index("detail · score"))
    xs, ys = panel.rounds_path.curve.getData()
    assert list(xs) == [9.0, 7.0, 5.0] and list(ys) == [3.0, 4.0, 4.5]
    assert [label.toPlainText() for label in panel.rounds_path.labels] == ["R1", "R2", "R3"]
    assert "rounds" in [label.text for _sample, label in panel.legend.items]


def _add_round(project_ctx, tmp_path):
    """Round 1 with two pairs, automatic labels, a finished run with an evaluation of its checkpoint."""
    from workbench.store.objectives import add_objective
    from workbench.store.pairs import add_prompt, add_response
    from workbench.store.rounds import add_auto_label, add_round_pair, attach_run, create_round, mark_done
    from workbench.store.runs import add_evaluation, create_run
    from workbench.store.schema import CheckpointRow

    def build(s):
        add_objective(s, "brevity", "", "minimize")
        p1, p2 = add_prompt(s, "q1"), add_prompt(s, "q2")
        rnd = create_round(s, RoundSettings(label_scorers={"brevity": "brevity"}), {}, [p1.id, p2.id], [],
                           tmp_path / "rounds")
        for p, gap in ((p1, 2.0), (p2, 4.0)):
            a, b = add_response(s, p.id, "short"), add_response(s, p.id, "a much longer answer")
            pid = add_round_pair(s, rnd.id, 1, p.id, a.id, b.id, {"brevity": gap}, {"brevity": "a"})
            add_auto_label(s, pid, "brevity", "auto:scorer:brevity", "a")
        run = create_run(s, "round 1", {}, str(tmp_path / "run"))
        attach_run(s, rnd.id, run.id)
        s.add(CheckpointRow(run_id=run.id, step=2, path="checkpoints/step-2"))
        s.flush()
        ckpt = s.query(CheckpointRow).one().id
        for key, value in (("brevity", 6.5), ("", 0.25)):
            add_evaluation(s, objective=key, metric="score" if key else "kl", value=value, run_id=run.id,
                           checkpoint_id=ckpt)
        for step in ("generate", "label", "train"):
            mark_done(s, rnd.id, step)

    project_ctx.db.call_sync(build)


def test_rounds_panel_shows_the_store_numbers_and_the_next_step(qtbot, project_ctx, tmp_path):
    _add_round(project_ctx, tmp_path)
    data = project_ctx.db.call_sync(load_rounds)
    head, rows = round_rows(data)
    assert head == ["Round", "Steps", "Pairs", "Human", "Auto", "Agree", "Gap brevity", "Margin", "Score brevity",
                    "KL", "Length"]
    assert rows == [["1", "generate label train ·", "2", "0", "2", "—", "3.000", "—", "6.500", "0.250", "—"]]
    assert data.round_runs == [(1, 1)]
    panel = RoundsPanel(project_ctx)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1)
    assert panel.table.item(0, 6).text() == "3.000"
    assert panel.current_step() == "evaluate"
    assert [name for name, b in panel.buttons.items() if b.isEnabled()] == ["evaluate"]
    assert not panel.cancel_button.isEnabled()


def test_progress_lines_parse_to_fraction_and_eta():
    assert parse_progress("[generating] policy samples, prompt 3/8, eta 12s 25%") == (0.25, 12.0)
    assert parse_progress("[generating] policy samples, prompt 3/8, eta 12s") == (0.25, 12.0)
    assert parse_progress("step 4  loss 0.6000  eta 30s") == (None, 30.0)
    assert parse_progress("round 1: 6 pairs from 3 prompts") == (None, None)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_round_process_reports_lines_and_cancels(qtbot):
    runner = RoundProcess()
    lines = []
    runner.line.connect(lambda text, fraction, eta: lines.append((text, fraction, eta)))
    script = ("import os, signal, time\n"
              "signal.signal(signal.SIGINT, lambda *_: (print('stopping', flush=True), os._exit(0)))\n"
              "print('[generating] prompt 2/5, eta 7s', flush=True)\ntime.sleep(30)\n")
    with qtbot.waitSignal(runner.line, timeout=20000):
        runner.start(sys.executable, ["-c", script])
    assert lines[0] == ("[generating] prompt 2/5, eta 7s", 0.2, 7.0)
    with qtbot.waitSignal(runner.finished, timeout=20000) as finished:
        runner.cancel()
    assert (finished.args[0], finished.args[1].splitlines()[-1]) == (0, "stopping")
    assert not runner.running


def test_loop_settings_are_a_dialog_that_saves_what_workbench_round_reads(qtbot, project_ctx, tmp_path):
    """Found under Xvfb: Loop settings… opened a file picker for a hand-written TOML, so a person without a
    terminal could not start a round. The dialog fills in the project's latest model, lists what is missing, and
    saves <project>.loop.json, which `workbench round --config` reads back to the same settings."""
    from PySide6.QtCore import Qt

    from workbench.core.loop_config import load_loop_config, loop_file
    from workbench.store.models import add_model
    from workbench.store.objectives import add_objective

    def build(s):
        for name in ("brevity", "detail"):
            add_objective(s, name)
        add_model(s, "old", "hub", "org/old-model")
        add_model(s, "tiny", "local", str(tmp_path / "tiny"))

    project_ctx.db.call_sync(build)
    panel = RoundsPanel(project_ctx)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.settings_button.isEnabled(), timeout=5000)
    assert not panel.buttons["generate"].isEnabled()
    qtbot.mouseClick(panel.settings_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(panel, "settings_dialog", None) is not None, timeout=5000)
    dlg = panel.settings_dialog
    assert dlg.run.model == str(tmp_path / "tiny")  # the project's latest model
    assert dlg.settings().labeller == "human"  # no scorer named after the objectives: people label
    assert dlg.save_button.isEnabled() and "brevity, detail" in dlg.run_summary.text()
    dlg.labeller.setCurrentIndex(dlg.labeller.findData("mix"))
    assert "give a label scorer for objective(s) brevity, detail (label_scorers)" in dlg.problems_label.text()
    assert not dlg.save_button.isEnabled() and dlg.mix_confidence.isEnabled()
    for combo in dlg.label_scorers.values():
        combo.setCurrentIndex(combo.findData("length_tokens"))
    dlg.mix_confidence.setValue(5)
    dlg.prompts.setValue(6)
    dlg.policy.setCurrentIndex(dlg.policy.findData("anchored"))
    assert dlg.save_button.isEnabled()
    qtbot.mouseClick(dlg.save_button, Qt.MouseButton.LeftButton)
    path = loop_file(project_ctx.project_path)
    assert dlg.saved == path and panel.config == path and path.is_file()
    run, settings = load_loop_config(path)
    assert run.model == str(tmp_path / "tiny") and settings == dlg.settings()
    assert (settings.labeller, settings.mix_confidence, settings.prompts_per_round, settings.policy) == (
        "mix", 5.0, 6, "anchored")
    assert settings.label_scorers == {"brevity": "length_tokens", "detail": "length_tokens"}
    assert panel.buttons["generate"].isEnabled() and "Loop settings: " in panel.status.text()

    toml = tmp_path / "hand.toml"  # a hand-written loop file loads into the same dialog
    toml.write_text('[run]\nmodel = "org/other"\nmax_steps = 3\n[round]\nsamples = 6\nlabeller = "human"\n',
                    encoding="utf-8")
    qtbot.mouseClick(panel.settings_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.settings_dialog is not dlg, timeout=5000)
    again = panel.settings_dialog
    assert again.settings() == settings  # reopened on what was saved
    again.load_file(str(toml))
    assert (again.run.model, again.run.max_steps, again.settings().samples, again.settings().labeller) == (
        "org/other", 3, 6, "human")
    from workbench.ui.errors import shown_errors

    broken = tmp_path / "broken.toml"
    broken.write_text("[run\nmodel = ", encoding="utf-8")
    again.load_file(str(broken))  # said in words; the dialog keeps what it had
    assert "cannot read the loop settings" in shown_errors()[-1][1] and again.run.model == "org/other"
    again.reject()
