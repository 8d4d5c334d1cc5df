"""Evaluations -> a points table for the Trade-offs panel (Qt-free, so it is tested without a window).

An evaluated *item* is one checkpoint, one mixture (a checkpoint or run evaluated under mixture weights) or a run
without a checkpoint; each Evaluation row gives one coordinate of it: axis "<objective> · <metric>". Missing
coordinates are NaN, which workbench.core.pareto treats as incomparable (never on the front).

Hypervolume reference point: the project's (workbench.core.hv_reference: the untrained base model's reward vector
unless the user set an axis), never the points drawn, so adding a dominated point leaves the number alone and the
CLI (`workbench sweep`) gives the same number for the same points. The base model's evaluations (produced_by
base_model) are one item per run, labelled "base model" and drawn apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.entities import Checkpoint, Evaluation, Run
from workbench.core.hv_reference import HypervolumeReport, ReferencePoint, hypervolume_report
from workbench.core.pareto import front_order, non_dominated

SCORERS_FILE = "scorers.py"  # the project's own scorers, next to the project file (mo_api.md)
# Directions belong to the metric where the metric has one: smaller is better / larger is better whatever the
# objective's own direction (a scorer set to "minimise" flips its score, never the accuracy or margin; issue #13).
MINIMIZED_METRICS = frozenset({"kl", "length", "loss", "perplexity", "ppl"})
MAXIMIZED_METRICS = frozenset({"accuracy", "margin", "reward", "rewards/accuracies", "rewards/margins"})
# The metric that stands for an objective's reward, best first (evaluation scores before training-time metrics;
# `reward` is a vector reward model's mean reward of the generations, RunConfig.eval_reward_model).
REWARD_METRICS = ("score", "reward", "accuracy", "margin", "rewards/accuracies", "rewards/margins")


@dataclass
class Item:
    """One evaluated thing: a point in the scatter."""

    key: tuple
    label: str
    run_id: int | None
    checkpoint_id: int | None
    weights: dict[str, float] | None
    values: dict[str, float] = field(default_factory=dict)  # axis -> value
    produced_by: dict[str, Any] = field(default_factory=dict)
    base: bool = False  # the untrained base model (a point on every front, issue 11)


@dataclass
class Table:
    items: list[Item]
    axes: list[str]
    directions: dict[str, str]
    objectives: list[str] = field(default_factory=list)  # the project's objectives, in its order
    run_names: dict[int, str] = field(default_factory=dict)
    reference: ReferencePoint = field(default_factory=ReferencePoint)  # the project's hypervolume reference

    def matrix(self, axes: list[str]) -> np.ndarray:
        """[N, len(axes)] values with NaN where an item lacks an axis."""
        return np.array([[it.values.get(a, np.nan) for a in axes] for it in self.items], dtype=float).reshape(
            len(self.items), len(axes))


def axis_name(ev: Evaluation) -> str:
    """"helpful · accuracy"; a metric of no single objective (kl, length) is named alone."""
    return f"{ev.objective} · {ev.metric}" if ev.objective else ev.metric


def reward_axes(table: Table) -> list[str]:
    """One axis per objective, the component of its reward vector (mo_api.md): "<objective> · score" when a
    scorer rated it, else "<objective> · accuracy" (held-out implicit-reward accuracy), else the next of
    REWARD_METRICS, else its first metric that is not a loss; a metric equal on every item gives way to the next
    one that tells items apart; in the project's objective order."""
    by_objective: dict[str, list[str]] = {}
    for axis in table.axes:
        objective, sep, metric = axis.partition(" · ")
        if sep:
            by_objective.setdefault(objective, []).append(metric)
    order = {o: i for i, o in enumerate(table.objectives)}
    out = []
    for objective in sorted(by_objective, key=lambda o: (order.get(o, len(order)), o)):
        metrics = by_objective[objective]
        ranked = [m for m in REWARD_METRICS if m in metrics] or \
            [m for m in metrics if m not in MINIMIZED_METRICS] or metrics
        # a metric on which every item scores the same (a scorer saturated on short generations) separates nothing
        metric = next((m for m in ranked if _varies(table, f"{objective} · {m}")), ranked[0])
        out.append(f"{objective} · {metric}")
    return out


def _varies(table: Table, axis: str) -> bool:
    values = {round(v, 12) for it in table.items if (v := it.values.get(axis)) is not None and np.isfinite(v)}
    return len(values) >= 2


def nearest_mixture(table: Table, run_id: int, weights: dict[str, float]) -> tuple[Item, float] | None:
    """The evaluated mixture of `run_id` closest (Euclidean, over the union of objectives) to `weights`, and the
    distance: what the steering box shows as the reward vector to expect at those weights."""
    best: tuple[Item, float] | None = None
    for item in table.items:
        if item.run_id != run_id or not item.weights:
            continue
        keys = set(item.weights) | set(weights)
        d = float(np.sqrt(sum((item.weights.get(k, 0.0) - weights.get(k, 0.0)) ** 2 for k in keys)))
        if best is None or d < best[1]:
            best = (item, d)
    return best


def build_table(evaluations: list[Evaluation], directions: dict[str, str], runs: dict[int, Run],
                checkpoints: dict[int, Checkpoint], reference: ReferencePoint | None = None) -> Table:
    """Group evaluations into items and axes (see the module docstring)."""
    items: dict[tuple, Item] = {}
    axis_dirs: dict[str, str] = {}
    for ev in evaluations:
        base = bool((ev.produced_by or {}).get("base_model"))
        wkey = "base" if base else json.dumps(ev.weights, sort_keys=True) if ev.weights else ""
        key = (ev.run_id, ev.checkpoint_id, wkey)
        item = items.get(key)
        if item is None:
            label = _base_label(ev, runs) if base else _label(ev, runs, checkpoints)
            item = items[key] = Item(key, label, ev.run_id, ev.checkpoint_id, ev.weights, base=base)
        axis = axis_name(ev)
        item.values[axis] = float(ev.value)
        item.produced_by.update(ev.produced_by or {})
        if axis not in axis_dirs:
            metric = ev.metric.lower()
            axis_dirs[axis] = ("minimize" if metric in MINIMIZED_METRICS else "maximize" if metric in MAXIMIZED_METRICS
                               else directions.get(ev.objective, "maximize"))
    return Table(list(items.values()), sorted(axis_dirs), axis_dirs, list(directions),
                 {rid: run.name for rid, run in runs.items()}, reference or ReferencePoint())


def _base_label(ev: Evaluation, runs: dict[int, Run]) -> str:
    run = runs.get(ev.run_id) if ev.run_id is not None else None
    model = (run.config or {}).get("model", "") if run else ""
    return f"base model{' ' + str(model).rsplit('/', 1)[-1] if model else ''} (untrained; settings of " \
           f"{run.name if run else 'its run'})"


def _label(ev: Evaluation, runs: dict[int, Run], checkpoints: dict[int, Checkpoint]) -> str:
    run = runs.get(ev.run_id) if ev.run_id is not None else None
    name = run.name if run else (f"run {ev.run_id}" if ev.run_id is not None else "model")
    ckpt = checkpoints.get(ev.checkpoint_id) if ev.checkpoint_id is not None else None
    where = f" @ step {ckpt.step}" if ckpt else ""
    if ev.weights:
        mix = ", ".join(f"{k} {v:.2f}" for k, v in sorted(ev.weights.items()))
        return f"{name}{where} mix ({mix})"
    return f"{name}{where}"


@dataclass(frozen=True)
class FrontView:
    """What the scatter draws for two axes."""

    points: np.ndarray  # [N, 2], NaN rows included (not drawn)
    mask: np.ndarray  # [N] non-dominated
    order: np.ndarray  # indices of the front, in drawing order
    reference: np.ndarray  # [2] the project's hypervolume reference point on these axes (NaN where unset)
    hypervolume: float  # NaN when the reference point is incomplete
    report: HypervolumeReport  # the value with its reference point, as text (the same text the CLI prints)


def front_view(points: np.ndarray, directions: list[str], axes: list[str],
               reference: ReferencePoint) -> FrontView:
    """Non-dominated set, drawing order and the hypervolume against the project's reference point."""
    pts = np.asarray(points, dtype=float).reshape(-1, len(directions))
    finite = ~np.isnan(pts).any(axis=1)
    report = hypervolume_report(pts[finite].tolist(), axes, directions, reference)
    return FrontView(pts, non_dominated(pts, directions), front_order(pts, directions), np.array(report.reference),
                     report.value, report)


# --- mixtures to evaluate --------------------------------------------------------------------------------------
MIXTURE_METHODS = ("mah_dpo", "soup")


def mixture_objectives(config: dict[str, Any], project_objectives: list[str], checkpoint_dir: Path | None = None
                       ) -> list[str]:
    """The objectives a run's mixtures weigh: a soup's ingredients; for MAH-DPO the heads saved with the checkpoint
    (heads.json), else the objectives it was trained on."""
    if config.get("method") == "soup":
        return list(config.get("soup_adapters") or {})
    heads = checkpoint_dir / "heads.json" if checkpoint_dir is not None else None
    if heads is not None and heads.is_file():
        try:
            return [str(o) for o in json.loads(heads.read_text(encoding="utf-8"))["objectives"]]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # an unreadable heads file: fall back to the run's settings (the worker will say what is wrong)
    return list(config.get("objectives") or config.get("weights") or project_objectives)


def runs_with_checkpoints(s: Any) -> list[tuple[Run, list[Checkpoint]]]:
    """Every run with its checkpoints, oldest run first (DB thread; the store is imported on first use)."""
    from workbench.store.runs import list_checkpoints, list_runs

    return [(run, list_checkpoints(s, run.id)) for run in list_runs(s)]


def checkpoint_choices(runs: list[tuple[Run, list[Checkpoint]]], run_dir, kind: str) -> list[tuple[str, str]]:
    """(label, absolute checkpoint folder) of the latest checkpoint of every run of `kind` (prm, reward_model),
    newest run first: what a guide or an evaluation offers to score with. `run_dir(run)` resolves a run's folder."""
    out = []
    for run, checkpoints in sorted(runs, key=lambda rc: rc[0].id, reverse=True):
        if (run.config or {}).get("kind", "policy") != kind or not checkpoints:
            continue
        last = max(checkpoints, key=lambda c: c.step)
        path = Path(last.path) if Path(last.path).is_absolute() else Path(run_dir(run)) / last.path
        out.append((f"{run.name} (step {last.step})", str(path)))
    return out


def mixture_candidates(runs: list[tuple[Run, list[Checkpoint]]]) -> list[tuple[Run, list[Checkpoint]]]:
    """Runs whose mixtures can be evaluated: finished or stopped MAH-DPO runs with a checkpoint, and soups."""
    out = []
    for run, checkpoints in runs:
        method = (run.config or {}).get("method")
        if method not in MIXTURE_METHODS or run.status not in ("finished", "stopped"):
            continue
        if checkpoints or method == "soup":
            out.append((run, checkpoints))
    return out


def load_objective_names(s) -> list[str]:
    from workbench.store.objectives import list_objectives

    return [o.name for o in list_objectives(s)]


def project_scorers(project_path: Path | None) -> tuple[Any, str]:
    """The scorer registry (built-ins + the project's scorers.py) and, when that file could not be loaded, why
    (then the registry holds the built-ins only). Loading runs the user's file: call it on the DB thread."""
    from workbench.core.errors import WorkbenchError
    from workbench.core.scorer_trust import TrustBook, check_trusted
    from workbench.core.scorers import ScorerRegistry, builtin_scorers, scorer_registry

    user_file = project_path.with_name(SCORERS_FILE) if project_path is not None else None
    try:
        if project_path is not None:  # code from a received project runs only once trusted (issue #12)
            check_trusted(user_file, TrustBook().hashes(project_path))
        return scorer_registry(user_file), ""
    except WorkbenchError as exc:
        return ScorerRegistry(builtin_scorers()), str(exc)


def scorer_names(project_path: Path | None) -> tuple[list[str], str]:
    """Names the New Run dialog offers, and the problem with the project's scorers.py ("" when none)."""
    registry, problem = project_scorers(project_path)
    return registry.names(), problem


def load_scorers(project_path: Path | None, eval_scorers: dict[str, str]) -> dict[str, Any]:
    """objective -> Scorer for a run's eval_scorers; names no longer defined are skipped (the run's own
    evaluation reported them)."""
    registry, _ = project_scorers(project_path)
    return {o: registry.get(n) for o, n in eval_scorers.items() if n in registry}


def steering_spec(run: Run, checkpoint_path: str) -> dict[str, Any]:
    """What the inference worker loads to steer `run`: its base model plus the checkpoint (MAH-DPO heads are in
    it) or, for a soup, its ingredient adapters."""
    cfg = run.config or {}
    spec = {k: cfg[k] for k in ("model", "gguf_file", "revision", "trust_remote_code") if cfg.get(k)}
    if cfg.get("method") == "soup" and not checkpoint_path:
        spec["soup_adapters"] = dict(cfg.get("soup_adapters") or {})
    else:
        spec["adapter"] = checkpoint_path
    return spec
