"""`workbench eval PROJECT --run ID [--checkpoint STEP] [--grid N]`: reward vectors of a run, stored and printed.

The numbers come from the `workbench worker eval` process (workbench.training.evaluation.eval_worker), started like a
training worker and supervised the same way (workbench.cli.supervise); its `eval` events are ingested with the
store's Qt-free ingestion, so each evaluation row records the run, checkpoint and mixture weights it measured.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from workbench.cli.launch import self_command
from workbench.cli.supervise import EVAL_LOG, WorkerProcess
from workbench.cli.sweep_grid import (BASE_LABEL, Weights, format_table, reward_directions, reward_vector,
                                      weight_grid)
from workbench.cli.train import progress_line
from workbench.core.errors import RunError
from workbench.core.pareto import non_dominated
from workbench.core.protocol import Message, metric_values
from workbench.core.run_config import RunConfig
from workbench.cli.consent import (add_trust_argument, check_run_scorers, project_registry, trust_files,
                                         worker_env)
from workbench.store.run_prep import provide_scorers

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvalPoint:
    """One evaluated point: which run/checkpoint/mixture, and its values (`<objective>/<metric>`, kl, length)."""

    run_id: int
    checkpoint: str | None
    weights: Weights | None
    values: dict[str, float]
    base: bool = False  # the untrained base model (issue 11: a point on every front)


def eval_argv(jobs: Iterable[tuple[Path, str | None]], weights: list[Weights] | None, base: bool = False
              ) -> list[str]:
    """The worker command line: `--run-dir D [--checkpoint C]` per job (no checkpoints at all for soups);
    `--base` also evaluates the untrained base model."""
    argv = self_command() + ["worker", "eval"]
    for run_dir, checkpoint in jobs:
        argv += ["--run-dir", str(run_dir)] + (["--checkpoint", checkpoint] if checkpoint else [])
    return argv + (["--weights-json", json.dumps(weights)] if weights is not None else []) + (
        ["--base"] if base else [])


def drive(worker: WorkerProcess, on_batch: Callable[[list[Message]], None], progress: Progress) -> Message | None:
    """Feed the worker's message batches to `on_batch` until it exits; Ctrl+C follows WorkerProcess.interrupt
    (stop, then kill)."""
    batches = worker.messages()
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return worker.ended
        except KeyboardInterrupt:
            progress(worker.interrupt())
            continue
        if batch:
            on_batch(batch)


def run_eval_worker(project, jobs: list[tuple[int, Path, str | None]], weights: list[Weights] | None, *,
                    progress: Progress = print, remote_code_models: Iterable[str] = (),
                    base: bool = False) -> list[EvalPoint]:
    """Evaluate (run id, run folder, checkpoint) jobs in one worker; store and return every point it measured."""
    from workbench.store.ingest import ingest_events

    by_id = {str(run_id): run_id for run_id, _, _ in jobs}
    points: list[EvalPoint] = []
    last = [""]

    def on_batch(batch: list[Message]) -> None:
        evals = [m for m in batch if m.type == "eval" and m.run in by_id]
        for run_key in {m.run for m in evals}:  # only eval events: the worker's `ended` is not the run's end
            with project.session() as s:
                ingest_events(s, by_id[run_key], [m for m in evals if m.run == run_key])
        for m in evals:
            points.append(EvalPoint(by_id[m.run], m.data.get("checkpoint"), m.data.get("weights"),
                                    metric_values(m), bool(m.data.get("base"))))
        for m in batch:
            line = progress_line(m)
            if line and m.type != "ended" and line != last[0]:
                progress(line)
                last[0] = line

    log = Path(jobs[0][1]) / EVAL_LOG
    worker = WorkerProcess(eval_argv([(d, c) for _, d, c in jobs], weights, base), run_id=str(jobs[0][0]),
                           log_path=log, env=worker_env(project.path, remote_code_models))
    ended = drive(worker, on_batch, progress)
    if ended is None or ended.data.get("reason") != "finished":
        reason = ended.data.get("reason", "crashed") if ended is not None else "crashed"
        raise RunError(f"evaluation {reason}: {(ended.data.get('error') if ended else '') or 'no reason given'} "
                       f"(the worker's full log: {log})")
    return points


def _checkpoint(project, run_id: int, step: int | None) -> str:
    from workbench.store.runs import list_checkpoints

    with project.session() as s:
        checkpoints = list_checkpoints(s, run_id)
    if not checkpoints:
        raise RunError(f"run {run_id} has no checkpoint yet; train it first (or resume it)")
    if step is None:
        return checkpoints[-1].path
    found = [c.path for c in checkpoints if c.step == step]
    if not found:
        steps = ", ".join(str(c.step) for c in checkpoints)
        raise RunError(f"run {run_id} has no checkpoint at step {step}; it has steps {steps}")
    return found[0]


def mixable_objectives(cfg: RunConfig, run_dir: Path, checkpoint: str | None) -> list[str]:
    """Objectives a point of this run can be weighted over: soup adapters, or a MAH-DPO checkpoint's heads."""
    if cfg.method == "soup":
        return list(cfg.soup_adapters)
    heads = run_dir / (checkpoint or "") / "heads.json"
    if checkpoint and heads.is_file():
        return [str(o) for o in json.loads(heads.read_text(encoding="utf-8"))["objectives"]]
    raise RunError(f"this {cfg.method} run has one fixed trade-off per checkpoint; --grid needs a mah_dpo or soup "
                   "run")


def evaluate_run(project, run_id: int, *, checkpoint_step: int | None = None, grid: int = 0,
                 progress: Progress = print, trust_scorers: bool = False,
                 trust_remote_code: bool = False) -> tuple[RunConfig, list[EvalPoint]]:
    """Evaluate one run's checkpoint (soup: its adapters), over a weight grid when `grid` >= 2. The run's scorers
    must be trusted (`trust_scorers` trusts them now) when its eval_scorers name one of them."""
    from workbench.store.runs import get_run

    with project.session() as s:
        run = get_run(s, run_id)
    run_dir = Path(run.run_dir)
    cfg = RunConfig.load(run_dir / "config.json")
    checkpoint = None if cfg.method == "soup" else _checkpoint(project, run_id, checkpoint_step)
    weights = weight_grid(mixable_objectives(cfg, run_dir, checkpoint), grid) if grid else None
    provide_scorers(project.path, run_dir)
    if trust_scorers:
        trust_files(project.path, [run_dir])
    check_run_scorers(project.path, run_dir, cfg.eval_scorers.values())  # says why it waits, before any worker
    models = [cfg.model] if trust_remote_code and cfg.trust_remote_code else []
    # a grid is a front: the base model is a point on it (issue 11)
    return cfg, run_eval_worker(project, [(run_id, run_dir, checkpoint)], weights, progress=progress,
                                remote_code_models=models, base=bool(grid))


def points_table(cfg: RunConfig, project_path: str | Path, points: list[EvalPoint]) -> str:
    """The printed table of evaluated points; '*' marks the non-dominated ones (workbench.core.pareto)."""
    objectives = list(cfg.objectives) or sorted({k.split("/", 1)[0] for p in points for k in p.values if "/" in k})
    directions = reward_directions(objectives, cfg, project_registry(project_path, cfg.eval_scorers.values()))
    vectors = [reward_vector(p.values, objectives, cfg) for p in points]
    front = [int(i) for i in non_dominated(vectors, directions).nonzero()[0]] if points else []
    rows = [(BASE_LABEL if p.base else f"run {p.run_id} {p.checkpoint or 'soup'}", p.weights, v, p.values)
            for p, v in zip(points, vectors)]
    return format_table(objectives, rows, front, directions)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="the project .sqlite file")
    parser.add_argument("--run", type=int, required=True, metavar="ID", help="the run to evaluate")
    parser.add_argument("--checkpoint", type=int, metavar="STEP", help="checkpoint step (default: the latest)")
    parser.add_argument("--grid", type=int, default=0, metavar="N",
                        help="evaluate mixtures on a weight grid with N values per objective (mah_dpo, soup)")
    add_trust_argument(parser, remote_code=True)


def run(args: argparse.Namespace) -> int:
    from workbench.store.db import open_project

    if args.grid == 1 or args.grid < 0:
        raise RunError("--grid needs at least 2 values per objective (e.g. --grid 5)")
    project = open_project(args.project)
    try:
        cfg, points = evaluate_run(project, args.run, checkpoint_step=args.checkpoint, grid=args.grid,
                                   trust_scorers=args.trust_scorers, trust_remote_code=args.trust_remote_code)
        print(points_table(cfg, project.path, points))
        return 0
    finally:
        project.close()
