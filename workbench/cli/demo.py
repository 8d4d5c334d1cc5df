"""`workbench demo [--headless] [--dir D] [--tiny]`: the whole product on one small example, offline.

It creates a project with two conflicting objectives (brevity and detail) and a bundled set of pairs that
SmolLM2-135M-Instruct wrote and the demo's scorers labelled (resources/demo/README.md), trains ONE short MAH-DPO
run (a LoRA trunk and one output-head delta per objective), evaluates the untrained base model and five mixtures of
the heads over a weight grid with the same scorers, and shows the front.
- `--headless`: everything in this terminal through `workbench sweep`'s code path (run_sweep): progress with an
  ETA, the table of reward vectors (base model first), the front, a verdict on whether each extreme weight wins
  its own objective, whether each objective's score follows its weight across the mixtures (and where not), how
  far apart the extremes are, whether answers end before the token cap, and a PNG of the front.
- without it: the application opens on the demo project and the training run starts live in it (the mixtures are
  evaluated when training finishes; the Trade-offs panel shows them as they come).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from pathlib import Path

from workbench.cli.demo_model import DemoModel, choose_model
from workbench.cli.demo_project import SMOLLM2_SIZE, TINY_SIZE, DemoSize, create_demo_project, demo_config
from workbench.cli.demo_report import ProgressPrinter, extreme_checks, trend_checks, trend_verdict, verdict
from workbench.core.run_config import RunConfig

DEFAULT_DIR = "workbench-demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true",
                        help="run in this terminal: print progress, the table and the front, and write front.png")
    parser.add_argument("--dir", default=DEFAULT_DIR,
                        help=f"folder for the demo project (default: ./{DEFAULT_DIR}; an earlier demo there is "
                             "replaced)")
    parser.add_argument("--tiny", action="store_true",
                        help="use a tiny model built on the spot (seconds; its text is not meaningful)")
    parser.add_argument("--model", default="", help="train this model instead (folder, hub id or .gguf file)")
    parser.add_argument("--steps", type=int, help="training steps (default: 30 for SmolLM2, 12 for the tiny model)")
    parser.add_argument("--points", type=int, help="weight values per objective (default: 5; tiny model: 3)")
    parser.add_argument("--eval-prompts", type=int, help="held-out prompts each mixture answers (default: 6; tiny: 4)")
    parser.add_argument("--heads", choices=("low_rank", "full"), default="low_rank",
                        help="MAH-DPO heads: low-rank deltas (default) or the paper's full copy of the output head "
                             "per objective (README: both compared)")
    parser.add_argument("--threads", type=int,
                        help="CPU threads per worker (default: $OMP_NUM_THREADS, else 1, which is much faster "
                             "when other programs keep the CPU busy)")


def demo_size(args: argparse.Namespace, model: DemoModel) -> DemoSize:
    size = TINY_SIZE if model.kind == "tiny" else SMOLLM2_SIZE
    changes = {"steps": args.steps, "points": args.points, "eval_prompts": args.eval_prompts}
    return dataclasses.replace(size, **{k: v for k, v in changes.items() if v is not None})


def setup(args: argparse.Namespace) -> tuple[Path, RunConfig, DemoModel]:
    """Choose the model, create the project; returns (project path, run settings, model)."""
    folder = Path(args.dir).expanduser().resolve()
    model = choose_model(folder, force_tiny=args.tiny, model=args.model)
    print(model.note)
    size = demo_size(args, model)
    # Workers inherit the environment and torch reads OMP_NUM_THREADS. Default: ONE thread per worker unless the
    # user chose otherwise. Measured on the shared 2-core machine (resources/demo/README.md): a SmolLM2 training
    # step took ~11 s with 1 thread at load 8 but ~60 s with 2 threads at load 4 - OpenMP threads spin-waiting
    # for a core cost far more than they gain; on an idle machine 2 threads would gain well under 2x. The tiny
    # model always uses 1: a 64-wide matmul is too small to split.
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    elif model.kind == "tiny" or "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = "1"
    project, summary = create_demo_project(folder, size.prompts)
    print(f"project {project}: objectives brevity (fewer words) vs detail (more distinct content words); {summary}")
    cfg = dataclasses.replace(demo_config(model.location, size), head_type=getattr(args, "heads", "low_rank"))
    return project, cfg, model


def run_headless(project: Path, cfg: RunConfig, model: DemoModel) -> int:
    """Train, sweep the mixtures, print the table + verdict, write front.png next to the project."""
    from workbench.cli.sweep import run_sweep

    started = time.monotonic()
    result = run_sweep(project, cfg, points=cfg.sweep_points, progress=ProgressPrinter())
    print()
    mixtures = sum(1 for p in result.points if not p.base)
    print(f"reward vectors of the untrained base model and {mixtures} mixtures of the brevity and detail heads "
          "(* = on the front; weights are brevity/detail):")
    print(result.table())
    front = ", ".join(f"({', '.join(f'{x:.3g}' for x in result.points[i].vector)})" for i in result.front)
    print(f"front ({len(result.front)} of {len(result.points)} points): {front}")
    print(result.hypervolume_text)
    checks = extreme_checks(result.objectives, result.directions, [p.weights for p in result.points],
                            [p.vector for p in result.points])
    for line in verdict(checks, dict(zip(result.objectives, result.directions))):
        print(line)
    trends = trend_checks(result.objectives, result.directions, [p.weights for p in result.points],
                          [p.vector for p in result.points])
    for line in trend_verdict(trends, dict(zip(result.objectives, result.directions))):
        print(line)
    print(answer_lengths(result.points, cfg.eval_max_new_tokens))
    png = save_png(project.parent / "front.png", result, model)
    print(f"plot: {png}")
    print(f"demo finished in {time.monotonic() - started:.0f}s of training and evaluation")
    if not model.meaningful_text:
        print("(tiny model: the numbers show the mechanics only; the text it writes is not meaningful)")
    return 0


def answer_lengths(points, max_new_tokens: int) -> str:
    """Whether answers end before the token cap (the model emits end-of-turn), from each point's mean length."""
    lengths = [p.values.get("length", math.nan) for p in points]
    shown = ", ".join(f"{x:.1f}" for x in lengths)
    early = [x for x in lengths if x < max_new_tokens - 0.5]
    return (f"mean answer length in tokens per point (cap {max_new_tokens}): {shown}; "
            + (f"{len(early)} of {len(lengths)} points end answers before the cap" if early
               else "every answer ran to the cap"))


def save_png(path: Path, result, model: DemoModel) -> Path:
    """The front as a PNG (workbench.ui.front_png keeps Qt inside the ui layer)."""
    from workbench.ui.front_png import save_front_png

    name = "tiny model" if model.kind == "tiny" else "SmolLM2-135M-Instruct" if model.kind in ("hub", "gguf") \
        else Path(model.location).name
    title = f"MAH-DPO demo ({name}): mixtures labelled by {'/'.join(result.objectives)} weights"
    return save_front_png(path, result.objectives, result.directions, [p.vector for p in result.points],
                          [p.weights for p in result.points], result.front, title)


def run_gui(project: Path, cfg: RunConfig) -> int:
    """Prepare the run, then open the application on the project with that run started live."""
    from workbench.cli.sweep import prepare
    from workbench.cli.sweep_grid import weight_grid
    from workbench.store.db import open_project

    handle = open_project(project)
    try:
        run = prepare(handle, cfg, project.with_suffix(".runs"))
    finally:
        handle.close()
    print(f"opening the application; run {run.id} trains live, then its mixtures are evaluated")
    from workbench.app import main as gui_main

    return gui_main([str(project)], start_run=run.id, evaluate_weights=weight_grid(cfg.objectives, cfg.sweep_points))


def run(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    project, cfg, model = setup(args)
    if not args.headless:
        return run_gui(project, cfg)
    code = run_headless(project, cfg, model)
    print(f"total demo time {time.monotonic() - t0:.0f}s")
    return code
