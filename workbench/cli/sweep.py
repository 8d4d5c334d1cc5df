"""`workbench sweep PROJECT --config run.toml [--points N]`: a Pareto front from a grid of objective weights.

How a point is made depends on the method (mo_api.md):
- mah_dpo: ONE training run; every grid weight vector is a mixture of its objective heads (no retraining);
- soup: no training; every grid weight vector combines cfg.soup_adapters (earlier runs' adapters) exactly;
- weighted / modpo: one training run per weight vector (MODPO skips vectors that give its target weight 0).
Training goes through the headless train path (run folder -> `worker train` -> ingestion), evaluation through one
`worker eval` process for all points; runs, metrics, checkpoints and evaluations (with weights) are all stored.
The front is the non-dominated set of the reward vectors (workbench.core.pareto), with its exact hypervolume.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.cli.eval_cmd import EvalPoint, Progress, drive, mixable_objectives, run_eval_worker
from workbench.cli.supervise import WORKER_LOG, WorkerProcess
from workbench.cli.sweep_grid import (BASE_LABEL, Weights, format_table, format_weights, reward_axes,
                                      reward_directions, reward_vector, weight_grid)
from workbench.cli.train import progress_line, worker_argv
from workbench.core.entities import Run
from workbench.core.errors import InputError, RunError
from workbench.core.hv_reference import HypervolumeReport, hypervolume_report, parse_reference
from workbench.core.pareto import non_dominated
from workbench.core.protocol import Message
from workbench.core.run_config import RunConfig
from workbench.cli.consent import add_trust_argument, project_registry, trust_files, worker_env
from workbench.store.run_prep import provide_scorers

TRAINED_PER_POINT = ("weighted", "modpo")


@dataclass(frozen=True)
class SweepPoint:
    run_id: int
    weights: Weights
    vector: list[float]  # one value per SweepResult.objectives (reward_vector)
    values: dict[str, float] = field(default_factory=dict)  # everything measured (accuracy, margin, score, kl, ...)
    checkpoint: str | None = None
    base: bool = False  # the untrained base model (issue 11: on every front, marked as such)


@dataclass(frozen=True)
class SweepResult:
    method: str
    objectives: list[str]
    directions: list[str]  # per objective: "maximize" | "minimize"
    points: list[SweepPoint]
    front: list[int]  # indices into points of the non-dominated ones
    hypervolume: float
    reference: list[float]  # the project's hypervolume reference point (core.hv_reference), per objective
    hypervolume_text: str = ""  # the value with its reference point, or why there is none

    def table(self) -> str:
        rows = [(BASE_LABEL if p.base else f"run {p.run_id}", p.weights, p.vector, p.values) for p in self.points]
        return format_table(self.objectives, rows, self.front, self.directions)


def sweep_objectives(project, cfg: RunConfig) -> list[str]:
    """The objectives weighted in the sweep: soup adapters, cfg.objectives, or every objective of the project."""
    if cfg.method == "soup":
        return list(cfg.soup_adapters)
    if cfg.objectives:
        return list(cfg.objectives)
    from workbench.store.objectives import list_objectives

    with project.session() as s:
        return [o.name for o in list_objectives(s)]


def sweep_weights(cfg: RunConfig, objectives: list[str], points: int) -> list[Weights]:
    """The grid; MODPO divides by its target's weight (LOSSES.md), so vectors giving the target 0 are left out."""
    grid = weight_grid(objectives, points)
    if cfg.method == "modpo":
        target = cfg.modpo_target or objectives[0]
        grid = [w for w in grid if w.get(target, 0.0) > 0]
    return grid


def _ingest(project, run_id: int, progress: Progress) -> Callable[[list[Message]], None]:
    from workbench.store.ingest import ingest_events

    last = [""]

    def on_batch(batch: list[Message]) -> None:
        with project.session() as s:
            ingest_events(s, run_id, batch)
        for m in batch:
            line = progress_line(m)
            if line and line != last[0]:  # status events repeat their message with a new progress fraction
                progress(f"  {line}")
                last[0] = line

    return on_batch


def prepare(project, cfg: RunConfig, runs_root: Path) -> Run:
    """A run row + folder (config.json, data.jsonl, the project's scorers.py) for one sweep member."""
    from workbench.store.run_prep import prepare_run

    with project.session() as s:
        run = prepare_run(s, cfg, runs_root)
    provide_scorers(project.path, Path(run.run_dir))
    return run


def train_point(project, cfg: RunConfig, runs_root: Path, progress: Progress) -> tuple[Run, str]:
    """Train one run headless (the `workbench train` path); returns the run and its final checkpoint."""
    from workbench.store.runs import get_run, list_checkpoints, set_run_status

    run = prepare(project, cfg, runs_root)
    with project.session() as s:
        set_run_status(s, run.id, "running")
    progress(f"run {run.id}: training {cfg.name}")
    drive(WorkerProcess(worker_argv(Path(run.run_dir), False), run_id=str(run.id),
                        log_path=Path(run.run_dir) / WORKER_LOG, env=worker_env(project.path, own_code(cfg))),
          _ingest(project, run.id, progress), progress)
    with project.session() as s:
        final = get_run(s, run.id)
        checkpoints = list_checkpoints(s, run.id)
    if final.status != "finished" or not checkpoints:
        raise RunError(f"sweep stopped: run {run.id} {final.status}{': ' + final.error if final.error else ''} "
                       f"(the worker's full log: {Path(run.run_dir) / WORKER_LOG})")
    return final, checkpoints[-1].path


def _make_points(cfg: RunConfig, objectives: list[str], points: int, project, runs_root: Path,
                 progress: Progress) -> tuple[list[str], list[tuple[Weights, EvalPoint]]]:
    """Train what the method needs and evaluate every grid point: (objectives weighted, [(weights, point)])."""
    grid = sweep_weights(cfg, objectives, points)
    progress(f"sweep: {cfg.method} over {len(grid)} weight vector(s) of {', '.join(objectives)}")
    if cfg.method == "mah_dpo":
        run, checkpoint = train_point(project, cfg, runs_root, progress)
        heads = set(mixable_objectives(cfg, Path(run.run_dir), checkpoint))
        if heads != set(objectives):  # an objective without labelled pairs gets no head
            objectives = [o for o in objectives if o in heads]
            grid = sweep_weights(cfg, objectives, points)
        evaluated = run_eval_worker(project, [(run.id, Path(run.run_dir), checkpoint)], grid, progress=progress,
                                    remote_code_models=own_code(cfg), base=True)
        return objectives, [(p.weights or {}, p) for p in evaluated]
    if cfg.method == "soup":
        run = prepare(project, cfg, runs_root)
        from workbench.store.runs import set_run_status

        try:
            evaluated = run_eval_worker(project, [(run.id, Path(run.run_dir), None)], grid, progress=progress,
                                        remote_code_models=own_code(cfg), base=True)
        except RunError as exc:
            with project.session() as s:
                set_run_status(s, run.id, "failed", str(exc))
            raise
        with project.session() as s:
            set_run_status(s, run.id, "finished")
        return objectives, [(p.weights or {}, p) for p in evaluated]
    jobs: list[tuple[int, Path, str | None]] = []
    for weights in grid:
        member = dataclasses.replace(cfg, name=f"{cfg.name} {format_weights(weights)}", weights=dict(weights))
        run, checkpoint = train_point(project, member, runs_root, progress)
        jobs.append((run.id, Path(run.run_dir), checkpoint))
    evaluated = run_eval_worker(project, jobs, None, progress=progress, remote_code_models=own_code(cfg), base=True)
    by_run = {p.run_id: p for p in evaluated if not p.base}
    return objectives, [({}, p) for p in evaluated if p.base] + [(w, by_run[run_id])
                                                               for w, (run_id, _, _) in zip(grid, jobs)]


def project_hypervolume(project, objectives: list[str], cfg: RunConfig, directions: list[str],
                        vectors: list[list[float]], user: dict[str, float] | None = None) -> HypervolumeReport:
    """The hypervolume of `vectors` against the project's stored reference point (the base model's reward vector
    unless the user set an axis; `user` = {objective: value} sets those axes first, as `--reference` does)."""
    from workbench.store.hv_reference import get_reference, set_reference

    axes = reward_axes(objectives, cfg)
    with project.session() as s:
        if user:
            unknown = sorted(set(user) - set(objectives))
            if unknown:
                raise InputError(f"--reference names {', '.join(unknown)}, which this sweep does not weigh; its "
                                 f"objectives are {', '.join(objectives)}")
            set_reference(s, {axes[objectives.index(k)]: v for k, v in user.items()})
        reference = get_reference(s)
    return hypervolume_report(vectors, axes, directions, reference)


def own_code(cfg: RunConfig) -> list[str]:
    """The sweep's config file is the user's own: its trust_remote_code is consent for its model (remote_code.py)."""
    return [cfg.model] if cfg.trust_remote_code else []


def run_sweep(project_path: str | Path, cfg: RunConfig, *, points: int, progress: Progress = print,
              runs_dir: str | Path | None = None, trust_scorers: bool = False,
              reference: dict[str, float] | None = None) -> SweepResult:
    """Train and/or evaluate over the weight grid (module docstring) and return the stored points and front;
    the base model is one of the points, and the hypervolume is measured from the project's reference point.
    `trust_scorers` (--trust-scorers) trusts the project's scorers.py first; an untrusted one that the config
    needs stops the sweep before anything trains."""
    from workbench.store.db import open_project

    if cfg.method not in ("mah_dpo", "soup", *TRAINED_PER_POINT):
        raise RunError(f"cannot sweep method {cfg.method!r}")
    problems = cfg.problems()
    if problems:
        raise RunError("; ".join(problems))
    if trust_scorers:
        trust_files(project_path)
    registry = project_registry(project_path, [*cfg.eval_scorers.values(), *cfg.margin_scorers.values()])
    for name in cfg.eval_scorers.values():
        registry.get(name)  # a misspelt scorer fails now, not after training
    project = open_project(project_path)
    try:
        runs_root = Path(runs_dir) if runs_dir else Path(project_path).with_suffix(".runs")
        objectives, made = _make_points(cfg, sweep_objectives(project, cfg), points, project, runs_root, progress)
        directions = reward_directions(objectives, cfg, registry)
        result_points = [SweepPoint(p.run_id, dict(w), reward_vector(p.values, objectives, cfg), dict(p.values),
                                    p.checkpoint, p.base) for w, p in made]
        vectors = [p.vector for p in result_points]
        report = project_hypervolume(project, objectives, cfg, directions, vectors, reference)
    finally:
        project.close()
    front = [int(i) for i in non_dominated(vectors, directions).nonzero()[0]]
    return SweepResult(cfg.method, objectives, directions, result_points, front, report.value, report.reference,
                       report.text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="the project .sqlite file")
    parser.add_argument("--config", required=True, help="run settings (.toml or .json); method picks the sweep kind")
    parser.add_argument("--points", type=int, metavar="N",
                        help="weight values per objective axis (default: the config's sweep_points)")
    parser.add_argument("--runs-dir", help="where run folders go (default: <project>.runs next to the project)")
    add_trust_argument(parser)
    parser.add_argument("--reference", default="", metavar="OBJ=V,...",
                        help="set the project's hypervolume reference point for these objectives (stored; default: "
                             "the untrained base model's reward vector), e.g. 'brevity=40,detail=10'")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = RunConfig.load(args.config)
    except (OSError, ValueError) as exc:  # tomllib/json decode errors are ValueErrors too
        raise InputError(f"cannot read the run settings: {exc}", path=str(args.config)) from None
    result = run_sweep(args.project, cfg, points=args.points or cfg.sweep_points, runs_dir=args.runs_dir,
                       trust_scorers=args.trust_scorers, reference=parse_reference(args.reference))
    print(result.table())
    print(f"front: {len(result.front)} of {len(result.points)} points; {result.hypervolume_text}")
    return 0
