"""A walk-through of the application as a new user meets it, driving a REAL project in a real window (issue #13):
welcome page → new project → import the bundled pairs → label by keyboard → build a tiny model (Models panel) →
train a MAH-DPO run → Stop → Resume (its plot continues from the step it stopped at) → evaluate mixtures →
steer generation with the sliders. A PNG of the window is saved at each step, and the numbers that show the
resume continued (not restarted) are printed and written to walkthrough.json.

Run under Xvfb (a real X server, not the offscreen platform):
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python resources/walkthrough.py [OUT_DIR]
OUT_DIR defaults to resources/screenshots/walkthrough. The model is the tiny untrained Llama (its text is
meaningless; the mechanics are real); a CPU is enough (a few minutes).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import workbench.ui  # noqa: E402,F401  (PySide6 refcount workaround first)
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

STOP_AT = 12  # the Stop is pressed once the run is past this step
STEPS = 30
PROMPTS = 24  # the bundled pairs of this many prompts (all of them: a slower reference pass, same mechanics)


async def wait_for(app: QApplication, cond, what: str, timeout: float = 600.0, failed=None) -> None:
    """Until cond() holds; `failed()` returning a text ends the wait at once with that text (no 10-minute hang on
    a job that has already failed)."""
    t0 = time.monotonic()
    while not cond():
        why = failed() if failed is not None else None
        if why:
            raise RuntimeError(f"{what} failed: {why}")
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)  # the qasync loop runs Qt's events meanwhile (never processEvents() in a task)


class Shots:
    def __init__(self, window, out: Path) -> None:
        self.window, self.out, self.n = window, out, 0

    async def take(self, name: str) -> Path:
        await asyncio.sleep(2.0)  # let plots redraw (150 ms timer, a few curves per tick) and layouts settle
        self.n += 1
        path = self.out / f"walkthrough_{self.n:02d}_{name}.png"
        self.window.grab().save(str(path))
        print(f"saved {path.name}", flush=True)
        return path


async def walk(app: QApplication, out: Path, work: Path) -> dict:
    from workbench.cli.demo_project import OBJECTIVES, TINY_SIZE, demo_config, demo_resources, first_prompts
    from workbench.formats import read_dataset, write_trl
    from workbench.store.objectives import add_objective
    from workbench.core.run_config import RunConfig
    from workbench.core.weight_grid import weight_grid
    from workbench.services.context import AppContext
    from workbench.store.runs import list_checkpoints, list_runs
    from workbench.ui.main_window import MainWindow
    from workbench.ui.theme import apply_theme

    facts: dict = {}
    ctx = AppContext(settings=QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    apply_theme(app, "light")
    win = MainWindow(ctx, lazy=True)
    win.resize(1440, 900)
    win.show()
    shots = Shots(win, out)
    await shots.take("welcome")

    # 1. a new project with the demo's objectives and the bundled pairs of its first prompts (labelled by the
    #    demo's scorers), as a user would import a file
    project = work / "walkthrough.sqlite"
    ctx.new_project(project)
    for name, (direction, description) in OBJECTIVES.items():
        ctx.db.call_sync(add_objective, name, description, direction)
    shutil.copyfile(demo_resources() / "scorers.py", work / "scorers.py")
    # the user trusts the scorers.py they just put there (File ▸ Trust Project Scorers…); the walk-through keeps its
    # trust in its own temporary file, not in the user's settings
    import os

    from workbench.core.scorer_trust import TRUST_FILE_ENV, TrustBook, file_sha256

    os.environ.setdefault(TRUST_FILE_ENV, str(work / "trusted_scorers.json"))
    TrustBook().trust(project, file_sha256(work / "scorers.py"))
    ctx.project_changed.emit()
    pairs = work / "pairs.jsonl"
    write_trl(first_prompts(read_dataset(demo_resources() / "pairs.jsonl", "trl"), PROMPTS), pairs)
    panel = win.panel("ProjectPanel")
    win.tabs.setCurrentWidget(panel)
    panel.reload()
    panel.run_import([(str(pairs), "trl", "brevity")])
    await wait_for(app, lambda: len(getattr(panel, "outcomes", [])) == 1, "the import")
    facts["imported_pairs"] = panel.outcomes[0].pairs
    await wait_for(app, lambda: panel.stats is not None, "the project summary")
    await shots.take("project_imported")

    # 2. label by keyboard: a person, one objective, eight pairs
    label = win.panel("LabelPanel")
    win.tabs.setCurrentWidget(label)
    label.new_name.setText("ada")
    label.create_annotator()
    await wait_for(app, lambda: label.annotator.findText("ada") >= 0, "the annotator")
    label.annotator.setCurrentIndex(label.annotator.findText("ada"))
    label.mode.setCurrentText("Only: brevity")
    label.start_session()
    await wait_for(app, lambda: label.pair_view.shown_pair_id is not None, "the first pair")
    for i in range(8):
        shown = label.pair_view.shown_pair_id
        QTest.keyClick(label.rows, Qt.Key.Key_1 if i % 3 else Qt.Key.Key_2)
        await wait_for(app, lambda: label.pair_view.shown_pair_id not in (None, shown), "the next pair")
    await wait_for(app, lambda: label.session.labelled == 8, "eight labels stored")
    facts["labels_by_keyboard"] = label.session.labelled
    facts["label_progress"] = label.progress.text()
    await shots.take("label")

    # 3. a model without internet: the tiny test model, built from the Models panel
    models = win.panel("ModelsPanel")
    win.tabs.setCurrentWidget(models)
    models.offline.build_tiny()
    await wait_for(app, lambda: bool(models.models), "the tiny model", timeout=300)
    tiny = models.models[0].location
    await shots.take("models_offline")

    # 4. train, Stop, Resume
    runs = win.panel("RunsPanel")
    win.tabs.setCurrentWidget(runs)

    async def yes(_warnings):
        return True

    runs.confirm_launch = yes
    cfg = demo_config(tiny, TINY_SIZE)
    cfg = RunConfig.from_dict({**cfg.to_dict(), "name": "walkthrough", "max_steps": STEPS, "checkpoint_every": 4,
                               "eval_every": 10, "device": "cpu"})
    runs.launch(cfg)
    sup = ctx.supervisor
    await wait_for(app, lambda: bool(runs.model.runs), "the run row")
    run_id = runs.model.runs[0].id
    await wait_for(app, lambda: sup.live(run_id) is not None and sup.live(run_id).step >= STOP_AT, "training")
    runs.select_runs([run_id])
    runs.stop_selected()
    await wait_for(app, lambda: not sup.is_running(run_id), "the stop")
    loss = sup.series(run_id).get("loss")
    facts["stopped_at_step"] = int(loss.steps[-1])
    await shots.take("runs_stopped")
    runs.reload()
    await wait_for(app, lambda: any(r.id == run_id and r.status == "stopped" for r in runs.model.runs), "stopped")
    runs.select_runs([run_id])
    runs.start_selected()
    await wait_for(app, lambda: sup.is_running(run_id), "the resumed worker")
    await wait_for(app, lambda: not sup.is_running(run_id), "the resumed run to finish")
    steps = [int(s) for s in sup.series(run_id).get("loss").steps]
    facts["loss_steps_after_resume"] = steps
    facts["resumed_first_step"] = next((s for s in steps if s > facts["stopped_at_step"]), None)
    facts["restarted_from_step_1"] = steps.count(1) > 1
    facts["run_status"] = sup.live(run_id).state
    await shots.take("runs_resumed")

    # 5. evaluate mixtures of the last checkpoint, then steer
    trade = win.panel("TradeoffsPanel")
    win.tabs.setCurrentWidget(trade)
    run, checkpoints = ctx.db.call_sync(lambda s: [(r, list_checkpoints(s, r.id)) for r in list_runs(s)])[0]
    ck = Path(checkpoints[-1].path)
    ck_path = str(ck if ck.is_absolute() else sup.run_dir(run) / ck)
    run = type(run)(**{**run.__dict__, "run_dir": str(sup.run_dir(run))})
    trade.start_evaluation(run, ck_path, weight_grid(["brevity", "detail"], 3))
    await wait_for(app, lambda: trade.eval_status.text() == "Evaluated 3 mixtures.", "the evaluation", 600,
                   failed=lambda: trade.eval_status.text() if trade.eval_status.text().startswith("Evaluation ")
                   else None)  # "Evaluation failed after ...", "... stopped ...", "... cancelled ..."
    await wait_for(app, lambda: sum(bool(it.weights) for it in trade.table.items) >= 3, "the mixtures plotted")
    facts["mixtures"] = [{"weights": it.weights, **it.values} for it in trade.table.items if it.weights]
    await shots.take("tradeoffs")
    index = next(i for i, it in enumerate(trade.table.items) if it.weights)
    trade.show_details(index)
    await wait_for(app, lambda: trade.steer_button.isEnabled(), "the run's settings")
    trade.steer_selected()
    box = trade.steering
    await wait_for(app, lambda: bool(box.sliders), "the steering model", 300)
    box.sliders["brevity"].setValue(75)
    box.prompt.setText("How do I boil an egg?")
    box.generate()
    await wait_for(app, lambda: bool(box.generation_label.text()), "a steered generation", 300)
    facts["steered_weights"] = box.weights()
    await shots.take("steering")
    box.close_own()
    win.close()
    return facts


def main() -> int:
    import qasync

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "resources" / "screenshots" / "walkthrough"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        facts = loop.run_until_complete(walk(app, out, Path(tmp)))
        facts["wall_s"] = round(time.monotonic() - t0, 1)
    (out / "walkthrough.json").write_text(json.dumps(facts, indent=1, default=str), encoding="utf-8")
    print(json.dumps({k: v for k, v in facts.items() if k != "loss_steps_after_resume"}, default=str))
    ok = facts["resumed_first_step"] == facts["stopped_at_step"] + 1 and not facts["restarted_from_step_1"]
    print("resume continued from the stop" if ok else "RESUME DID NOT CONTINUE", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
