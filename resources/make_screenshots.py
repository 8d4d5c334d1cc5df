"""Build a project with realistic content and save a PNG of each panel to resources/screenshots/ (offscreen).

Content: three objectives, three runs (DPO, weighted, MAH-DPO) whose events.jsonl hold a simulated but realistic
training trace in the worker's protocol (DPO loss from ln 2 down, implicit rewards diverging, accuracies rising,
warm-up + cosine learning rate, per-objective margins, periodic eval events), and evaluations of checkpoints and
mixtures for the Trade-offs panel. With the store present, everything goes through it (create_project,
create_run, ingest_events_file, add_evaluation): the same path as a real session. Without it (a partial build),
the panels are filled directly from the same entities and a note is printed.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python resources/make_screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import workbench.ui  # noqa: E402,F401  (PySide6 refcount workaround first)
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from workbench.core.entities import Checkpoint, Evaluation, Run  # noqa: E402
from workbench.core.protocol import decode, encode, metric_values  # noqa: E402
from workbench.core.run_config import RunConfig  # noqa: E402

OBJECTIVES = ("helpful", "harmless", "concise")
RUNS = (("dpo-helpful", RunConfig(name="dpo-helpful", model="HuggingFaceTB/SmolLM2-135M-Instruct", method="dpo",
                                  objectives=["helpful"], max_steps=400)),
        ("weighted-70-30", RunConfig(name="weighted-70-30", model="HuggingFaceTB/SmolLM2-135M-Instruct",
                                     method="weighted", objectives=["helpful", "harmless"],
                                     weights={"helpful": 0.7, "harmless": 0.3}, max_steps=400)),
        ("mah-dpo-3obj", RunConfig(name="mah-dpo-3obj", model="HuggingFaceTB/SmolLM2-135M-Instruct",
                                   method="mah_dpo", objectives=list(OBJECTIVES), max_steps=400)))


def training_events(run_id: int, seed: int, steps: int = 400, stop_at: int | None = None) -> list[str]:
    """Protocol lines of a plausible DPO run (what the worker writes to events.jsonl)."""
    rng = np.random.default_rng(seed)
    lines = [encode("status", str(run_id), state="loading", message="loading the model", progress=None, step=0,
                    total_steps=steps),
             encode("status", str(run_id), state="reference", message="caching reference log-probs",
                    progress=1.0, step=0, total_steps=steps),
             encode("status", str(run_id), state="training", message="", progress=0.0, step=0, total_steps=steps)]
    last = stop_at or steps
    for step in range(1, last + 1):
        t = step / steps
        margin = (2.2 + seed * 0.3) * (1 - math.exp(-4 * t)) + 0.25 * rng.standard_normal()
        chosen, rejected = 0.35 * margin + 0.1 * rng.standard_normal(), -0.65 * margin
        lr = 5e-5 * (step / 40 if step < 40 else 0.5 * (1 + math.cos(math.pi * (step - 40) / (steps - 40))))
        values = {"loss": math.log1p(math.exp(-margin)), "rewards/chosen": chosen, "rewards/rejected": rejected,
                  "rewards/margins": chosen - rejected,
                  "rewards/accuracies": min(1.0, max(0.0, 0.5 + 0.45 * (1 - math.exp(-5 * t))
                                                     + 0.08 * rng.standard_normal())),
                  "logps/chosen": -120 + 8 * t + rng.standard_normal(), "logps/rejected": -128 - 14 * t
                  + rng.standard_normal(), "grad_norm": abs(2.5 * math.exp(-2 * t) + 0.4 * rng.standard_normal()),
                  "learning_rate": lr, "tokens_per_s": 5200 + 150 * rng.standard_normal(),
                  "eta_s": (steps - step) * 0.8}
        for k, obj in enumerate(OBJECTIVES[: 1 + seed]):
            values[f"{obj}/rewards/margins"] = (1.8 - 0.4 * k) * (1 - math.exp(-3 * t)) + 0.3 * rng.standard_normal()
        lines.append(encode("metric", str(run_id), step=step, values=values))
        if step % 50 == 0:
            lines.append(encode("checkpoint", str(run_id), step=step, path=f"checkpoints/step-{step}"))
            lines.append(encode("log", str(run_id), level="info", message=f"saved checkpoint at step {step}"))
        if step % 100 == 0:
            acc = {f"eval/{o}/accuracy": 0.5 + 0.3 * t * (1 - 0.3 * k) for k, o in enumerate(OBJECTIVES)}
            lines.append(encode("eval", str(run_id), step=step, values=acc, checkpoint=f"checkpoints/step-{step}",
                                weights=None))
    if stop_at is None:
        lines.append(encode("ended", str(run_id), reason="finished", error="", step=steps))
    return lines


def evaluations() -> tuple[list[Evaluation], dict[int, Checkpoint]]:
    """Reward vectors of checkpoints and of MAH-DPO mixtures (a weight sweep traces a front)."""
    evs: list[Evaluation] = []
    ckpts: dict[int, Checkpoint] = {}
    rng = np.random.default_rng(7)
    eid = 0
    for run_id in (1, 2, 3):
        for step in (100, 200, 300, 400):
            cid = run_id * 10 + step // 100
            ckpts[cid] = Checkpoint(cid, run_id, step, f"checkpoints/step-{step}")
            base = 0.52 + 0.06 * step / 100
            vec = {"helpful": base + 0.05 * (run_id == 1), "harmless": 0.55 + 0.04 * step / 100 * (run_id > 1),
                   "concise": 0.5 + 0.03 * step / 100 * (run_id == 3)}
            for obj, v in vec.items():
                evs.append(Evaluation(eid, obj, "accuracy", float(v + 0.01 * rng.standard_normal()),
                                      run_id=run_id, checkpoint_id=cid))
                eid += 1
    for w in np.linspace(0, 1, 9):
        weights = {"helpful": float(w), "harmless": float(1 - w), "concise": 0.0}
        vec = {"helpful": 0.6 + 0.2 * math.sqrt(w), "harmless": 0.62 + 0.2 * math.sqrt(1 - w),
               "concise": 0.55 + 0.02 * rng.standard_normal()}
        sample = [{"prompt": "How do I pick a lock?",
                   "text": ("I can't help with bypassing locks you don't own; a locksmith can help you get back in."
                            if w < 0.5 else "Insert a tension wrench, then rake the pins until they set...")}]
        for obj, v in vec.items():
            evs.append(Evaluation(eid, obj, "accuracy", float(v), run_id=3, checkpoint_id=34, weights=weights,
                                  produced_by={"evaluator": "held-out pairs", "samples": sample}))
            eid += 1
    return evs, ckpts


def fill_with_store(ctx, tmp: Path) -> None:
    """Everything through the store: the same path as a real session."""
    from workbench.store.ingest import ingest_events_file
    from workbench.store.objectives import add_objective
    from workbench.store.runs import add_evaluation, create_run, list_checkpoints

    ctx.new_project(tmp / "demo.sqlite")
    for obj in OBJECTIVES:
        ctx.db.call_sync(add_objective, obj, f"How {obj} the response is")
    for i, (name, cfg) in enumerate(RUNS, start=1):
        run_dir = ctx.runs_root / name
        run_dir.mkdir(parents=True)
        run = ctx.db.call_sync(create_run, name, cfg.to_dict(), str(run_dir))
        (run_dir / "events.jsonl").write_text("".join(training_events(run.id, i - 1)))
        ctx.db.call_sync(ingest_events_file, run.id, run_dir / "events.jsonl")
    evs, _ = evaluations()
    for ev in evs:
        ckpts = ctx.db.call_sync(list_checkpoints, ev.run_id)
        ckpt = next((c for c in ckpts if c.step == 100 * (ev.checkpoint_id % 10)), None)
        ctx.db.call_sync(add_evaluation, objective=ev.objective, metric=ev.metric, value=ev.value,
                         run_id=ev.run_id, checkpoint_id=ckpt.id if ckpt else None, weights=ev.weights,
                         produced_by=ev.produced_by)
    ctx.notify("runs")
    ctx.notify("evaluations")


def fill_directly(window, tmp: Path) -> None:
    """No store in this build: put the same entities straight into the panels."""
    from workbench.services.tradeoffs import build_table

    print("note: workbench.store is not available; panels are filled directly from the same content")
    runs = []
    for i, (name, cfg) in enumerate(RUNS, start=1):
        run_dir = tmp / name
        run_dir.mkdir(parents=True)
        lines = training_events(i, i - 1, stop_at=260 if i == 3 else None)
        (run_dir / "events.jsonl").write_text("".join(lines))
        store = window.ctx.supervisor.series(i)
        points = []
        for line in lines:
            msg = decode(line)
            if msg.type == "metric":
                points += [(k, msg.data["step"], v) for k, v in metric_values(msg).items()]
        store.extend(points)
        status = "running" if i == 3 else "finished"
        runs.append(Run(i, name, cfg.to_dict(), status, str(run_dir), last_step=260 if i == 3 else 400))
    runs_panel = window.panel("RunsPanel")
    runs_panel.model.set_runs(runs)
    runs_panel._loaded_history.update({1, 2, 3})
    for run in runs:  # what selecting an old run reads from its events.jsonl
        runs_panel._logs[run.id] = _log_lines(Path(run.run_dir) / "events.jsonl")
    runs_panel.select_runs([2, 3])
    trade = window.panel("TradeoffsPanel")
    evs, ckpts = evaluations()
    trade.set_table(build_table(evs, {o: "maximize" for o in OBJECTIVES}, {r.id: r for r in runs}, ckpts))


def _log_lines(path: Path) -> list[str]:
    from workbench.ui.widgets.log_view import read_log_lines

    return read_log_lines(path)


def shoot(window, out: Path, app: QApplication) -> list[Path]:
    saved = []

    def grab(widget, name: str) -> None:
        for _ in range(6):  # let plot timers draw, layouts settle
            app.processEvents()
            runs = window.panel("RunsPanel")
            if runs is not None:
                runs.plots.redraw()
        path = out / f"{name}.png"
        widget.grab().save(str(path))
        saved.append(path)

    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        grab(window, f"{i + 1}-{window.tabs.tabText(i).lower().replace(' ', '-').replace('-', '_')}")
    trade = window.panel("TradeoffsPanel")
    if trade is not None:
        window.tabs.setCurrentWidget(trade)
        axes = trade.table.axes
        if axes:
            trade.show_details(len(trade.table.items) - 3)
            trade.views.setCurrentIndex(1)
            grab(window, "tradeoffs_parallel_coordinates")
            trade.views.setCurrentIndex(0)
    runs = window.panel("RunsPanel")
    if runs is not None:
        window.tabs.setCurrentWidget(runs)
        runs.detail_tabs.setCurrentWidget(runs.log_view)
        grab(window, "runs_log")
        runs.detail_tabs.setCurrentIndex(0)
        runs.objectives = list(OBJECTIVES)
        window.ctx.project = window.ctx.project or object()
        dlg = runs.new_run()
        dlg.preset.setCurrentText("Multi-objective MAH-DPO")
        dlg.model.setCurrentText(str(_tiny_config_dir(out.parent)))
        grab(dlg, "new_run_dialog")
        dlg.reject()
    return saved


def _tiny_config_dir(base: Path) -> Path:
    """A folder with a SmolLM2-135M-shaped config.json so the dialog can show its estimate."""
    d = Path(tempfile.mkdtemp()) / "SmolLM2-135M-Instruct"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"hidden_size": 576, "num_hidden_layers": 30, "vocab_size": 49152,
                                               "intermediate_size": 1536, "num_attention_heads": 9,
                                               "num_key_value_heads": 3, "tie_word_embeddings": True}))
    return d


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "resources" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    from workbench.services.context import AppContext
    from workbench.ui.main_window import MainWindow
    from workbench.ui.theme import apply_theme

    apply_theme(app, os.environ.get("WORKBENCH_THEME", "light"))
    tmp = Path(tempfile.mkdtemp())
    ctx = AppContext(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(ctx)
    window.resize(1400, 900)
    window.show()
    try:
        import workbench.store.db  # noqa: F401
    except ImportError:
        fill_directly(window, tmp)
    else:
        fill_with_store(ctx, tmp)
    for path in shoot(window, out, app):
        print(path)
    ctx.project = None if not hasattr(ctx.project, "session") else ctx.project
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
