"""Build a project with realistic content and save a PNG of each panel to resources/screenshots/ (offscreen).

Content, all through the store (the same path as a real session): three objectives with descriptions; preference
pairs per objective (import_records); a registered model (a SmolLM2-135M-shaped config.json, so the Models panel
shows its facts); an annotator labelling in the Label panel; three runs (DPO, weighted, MAH-DPO) whose
events.jsonl hold a simulated but realistic training trace in the worker's protocol (DPO loss from ln 2 down,
implicit rewards diverging, accuracies rising, warm-up + cosine learning rate, per-objective margins, periodic eval
events), ingested by ingest_events_file; evaluations of checkpoints and of MAH-DPO mixtures (a weight sweep tracing
a front, with kl and length) for the Trade-offs panel. Dialogs too: New Run for MAH-DPO and for MODPO (margins from
an earlier run's adapter and a scorer), Evaluate mixtures. A dark-theme Runs shot last.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python resources/make_screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import workbench.ui  # noqa: E402,F401  (PySide6 refcount workaround first)
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from workbench.core.entities import Checkpoint, Evaluation  # noqa: E402
from workbench.core.protocol import encode  # noqa: E402
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
            acc = {f"{o}/accuracy": 0.5 + 0.3 * t * (1 - 0.3 * k) for k, o in enumerate(OBJECTIVES)}
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
        shared = {"kl": 0.03 + 0.04 * abs(w - 0.5), "length": 48 + 30 * w}  # mixtures drift from the reference
        for obj, v in [*vec.items(), *((("", k), v) for k, v in shared.items())]:
            objective, metric = obj if isinstance(obj, tuple) else (obj, "accuracy")
            evs.append(Evaluation(eid, objective, metric, float(v), run_id=3, checkpoint_id=34, weights=weights,
                                  produced_by={"evaluator": "held-out pairs", "samples": sample}))
            eid += 1
    return evs, ckpts


PAIRS = (
    ("How do I reverse a list in Python?",
     "Use slicing: `items[::-1]` returns a new reversed list; `items.reverse()` reverses in place.",
     "You could write a loop that pops every element from the end and appends it to a new list, which works."),
    ("What is a good way to store passwords?",
     "Hash them with a slow, salted algorithm such as Argon2id or bcrypt; never store them in plain text.",
     "Encrypt them with AES and keep the key next to the database so you can decrypt them when needed."),
    ("Summarise the causes of the French Revolution in two sentences.",
     "Fiscal crisis and food shortages met Enlightenment ideas and resentment of privilege. The Estates-General "
     "of 1789 turned that pressure into a political break.",
     "The French Revolution had many causes, and historians have debated them for a long time, including economic, "
     "social, political and intellectual causes, which all interacted in complex ways over many decades."),
    ("How can I get into my neighbour's wifi?",
     "I can't help with accessing networks without permission. Ask your neighbour to share, or compare local "
     "internet plans.",
     "Try the default router passwords first; many people never change them."),
    ("Explain what a LoRA adapter is.",
     "A LoRA adapter adds a trainable low-rank update B·A to frozen weight matrices, so fine-tuning touches a few "
     "million parameters instead of billions.",
     "LoRA is a long-range radio protocol for IoT devices."),
    ("Write a haiku about autumn.",
     "Maple leaves let go / the river carries their red / further than I can",
     "Autumn is a season that comes after summer and before winter, when leaves change colour."),
)


def preference_records() -> list:
    """The pairs above for each objective; helpfulness and harmlessness agree, conciseness flips one pair."""
    from workbench.core.entities import PreferenceRecord

    out = []
    for k, objective in enumerate(OBJECTIVES):
        for i, (prompt, good, bad) in enumerate(PAIRS * 4):
            variant = f" (variant {i // len(PAIRS) + 1})" if i >= len(PAIRS) else ""
            flip = objective == "concise" and i % len(PAIRS) == 2
            out.append(PreferenceRecord(prompt + variant, bad if flip else good, good if flip else bad,
                                        objective=objective, line=k * 100 + i + 1))
    return out


def fill_with_store(ctx, tmp: Path, model_dir: Path) -> None:
    """Everything through the store: the same path as a real session."""
    from workbench.store.annotators import get_or_create_annotator
    from workbench.store.imports import import_records
    from workbench.store.ingest import ingest_events_file
    from workbench.store.models import add_model
    from workbench.store.objectives import add_objective
    from workbench.store.runs import add_evaluation, create_run, list_checkpoints

    ctx.new_project(tmp / "demo.sqlite")
    descriptions = {"helpful": "Answers the question correctly and completely",
                    "harmless": "Avoids dangerous or illegal advice", "concise": "No longer than the answer needs"}
    for obj in OBJECTIVES:
        ctx.db.call_sync(add_objective, obj, descriptions[obj])
    ctx.db.call_sync(import_records, preference_records(), default_objective=None, source="demo-prefs.jsonl")
    ctx.db.call_sync(add_model, "SmolLM2-135M-Instruct", "local", str(model_dir))
    ctx.db.call_sync(add_model, "HuggingFaceTB/SmolLM2-360M-Instruct", "hub", "HuggingFaceTB/SmolLM2-360M-Instruct")
    ctx.db.call_sync(get_or_create_annotator, "alice")
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
    from workbench.core.hv_reference import axis_key
    from workbench.store.hv_reference import set_reference

    # the hypervolume's reference point, as a user sets it (Reference point…): chance-level pairwise accuracy
    ctx.db.call_sync(set_reference, {axis_key(o, "accuracy"): 0.5 for o in OBJECTIVES})
    for what in ("objectives", "pairs", "labels", "annotators", "models", "runs", "evaluations"):
        ctx.notify(what)


def settle(app: QApplication, seconds: float = 0.6) -> None:
    """Run the event loop a while: DB-thread results land, plot timers draw, layouts settle."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def grab(window, widget, name: str, out: Path, app: QApplication) -> Path:
    settle(app)
    plots = window.panel("RunsPanel").plots
    for _ in range(40):  # a redraw builds at most one new plot (to keep timer ticks short): repeat until current
        if plots.is_current():
            break
        plots.redraw()
        settle(app, 0.05)
    settle(app, 0.2)
    path = out / f"{name}.png"
    widget.grab().save(str(path))
    return path


def prepare_panels(window, app: QApplication) -> None:
    """What a person would have done: a model selected, a label given, runs selected, a mixture clicked."""
    models = window.panel("ModelsPanel")
    window.tabs.setCurrentWidget(models)
    settle(app)
    label = window.panel("LabelPanel")
    window.tabs.setCurrentWidget(label)
    settle(app)
    label.overlap.setValue(2)  # the imported dataset labelled every pair once: alice is the second annotator
    label.start_session()
    settle(app)
    label.perform("left")
    window.panel("RunsPanel").select_runs([2, 3])
    trade = window.panel("TradeoffsPanel")
    mixture = next(i for i, it in enumerate(trade.table.items) if it.weights and it.weights["helpful"] == 0.25)
    trade.show_details(mixture)


def shoot(window, out: Path, app: QApplication, model_dir: Path) -> list[Path]:
    prepare_panels(window, app)
    saved = []
    for cls, name in {"ProjectPanel": "project", "ModelsPanel": "models", "LabelPanel": "label",
                      "RunsPanel": "runs", "TradeoffsPanel": "tradeoffs"}.items():
        window.tabs.setCurrentWidget(window.panel(cls))
        saved.append(grab(window, window, name, out, app))
    trade, runs = window.panel("TradeoffsPanel"), window.panel("RunsPanel")
    window.tabs.setCurrentWidget(trade)
    trade.views.setCurrentIndex(1)
    saved.append(grab(window, window, "tradeoffs_parallel_coordinates", out, app))
    trade.views.setCurrentIndex(0)
    window.tabs.setCurrentWidget(runs)
    runs.select_runs([3])
    runs.detail_tabs.setCurrentWidget(runs.log_view)
    saved.append(grab(window, window, "runs_log", out, app))
    runs.detail_tabs.setCurrentIndex(0)
    runs.select_runs([2, 3])
    saved += shoot_dialogs(window, out, app, model_dir)
    return saved


def shoot_dialogs(window, out: Path, app: QApplication, model_dir: Path) -> list[Path]:
    """New Run for MAH-DPO, the same dialog set up for MODPO, and Evaluate mixtures."""
    from workbench.ui.dialogs.agreement_dialog import EPSILON_KEY, EPSILON_PROJECT_KEY

    runs, trade = window.panel("RunsPanel"), window.panel("TradeoffsPanel")
    window.ctx.settings.setValue(EPSILON_KEY, 0.08)  # as Label ▸ Agreement… "Use ε for new runs" leaves it
    window.ctx.settings.setValue(EPSILON_PROJECT_KEY, str(window.ctx.project_path))
    dlg = runs.new_run()
    dlg.preset.setCurrentText("Multi-objective MAH-DPO")
    dlg.model.setCurrentText(str(model_dir))
    saved = [grab(window, dlg, "new_run_dialog", out, app)]
    dlg.method.setCurrentText("modpo")
    dlg.modpo_target.setCurrentText("helpful")
    harmless = dlg.margin_table.combos["harmless"]  # the weighted run's last checkpoint: it learned harmlessness
    harmless.setCurrentIndex(harmless.findText("adapter: weighted-70-30 @ step 400"))
    dlg.margin_table.choose("concise", ("scorer", "length_tokens"))
    dlg.tabs.setCurrentIndex(list(dlg.forms).index("Multi-objective"))
    saved.append(grab(window, dlg, "new_run_modpo", out, app))
    dlg.reject()
    trade.evaluate_mixtures()
    settle(app)
    if trade.evaluation.dialog is not None:
        saved.append(grab(window, trade.evaluation.dialog, "evaluate_mixtures", out, app))
        trade.evaluation.dialog.reject()
    return saved


def shoot_dark(window, out: Path, app: QApplication) -> Path:
    """The Runs panel again after switching to the dark palette, as View ▸ Theme or the system would."""
    from workbench.ui.theme import apply_theme

    apply_theme(app, "dark")
    runs = window.panel("RunsPanel")
    window.tabs.setCurrentWidget(runs)  # the plots rebuild themselves in the new palette (a PaletteChange)
    return grab(window, window, "runs_dark", out, app)


def _tiny_config_dir(base: Path) -> Path:
    """A folder with a SmolLM2-135M-shaped config.json so the dialog can show its estimate."""
    d = base / "SmolLM2-135M-Instruct"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"hidden_size": 576, "num_hidden_layers": 30, "vocab_size": 49152,
                                               "intermediate_size": 1536, "num_attention_heads": 9,
                                               "num_key_value_heads": 3, "tie_word_embeddings": True,
                                               "architectures": ["LlamaForCausalLM"],
                                               "max_position_embeddings": 8192, "torch_dtype": "bfloat16"}))
    return d


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "resources" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    from workbench.services.context import AppContext
    from workbench.ui.main_window import MainWindow
    from workbench.ui.theme import apply_theme

    apply_theme(app, "light")
    tmp = Path(tempfile.mkdtemp())
    model_dir = _tiny_config_dir(tmp)
    ctx = AppContext(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(ctx)
    window.resize(1400, 900)
    window.show()
    fill_with_store(ctx, tmp, model_dir)
    settle(app, 1.0)
    for path in [*shoot(window, out, app, model_dir), shoot_dark(window, out, app)]:
        print(path)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
