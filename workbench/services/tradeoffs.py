"""Evaluations -> a points table for the Trade-offs panel (Qt-free, so it is tested without a window).

An evaluated *item* is one checkpoint, one mixture (a checkpoint or run evaluated under mixture weights) or a run
without a checkpoint; each Evaluation row gives one coordinate of it: axis "<objective> · <metric>". Missing
coordinates are NaN, which workbench.core.pareto treats as incomparable (never on the front).

Hypervolume reference point: the per-axis *worst* value among the items drawn (the minimum of a maximised axis, the
maximum of a minimised one; a nadir point estimated from the data, as is usual when no reference is given — see
Ishibuchi et al., "How to Specify a Reference Point in Hypervolume Calculation", Evol. Comput. 26(3), 2018). Items
that sit on the worst value of some axis add no volume, and the number compares fronts within one view, not across
projects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.entities import Checkpoint, Evaluation, Run
from workbench.core.pareto import front_order, hypervolume, non_dominated

# Metrics where smaller is better whatever the objective's own direction.
MINIMIZED_METRICS = frozenset({"kl", "length", "loss", "perplexity", "ppl"})


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


@dataclass
class Table:
    items: list[Item]
    axes: list[str]
    directions: dict[str, str]

    def matrix(self, axes: list[str]) -> np.ndarray:
        """[N, len(axes)] values with NaN where an item lacks an axis."""
        return np.array([[it.values.get(a, np.nan) for a in axes] for it in self.items], dtype=float).reshape(
            len(self.items), len(axes))


def axis_name(ev: Evaluation) -> str:
    return f"{ev.objective} · {ev.metric}"


def build_table(evaluations: list[Evaluation], directions: dict[str, str], runs: dict[int, Run],
                checkpoints: dict[int, Checkpoint]) -> Table:
    """Group evaluations into items and axes (see the module docstring)."""
    items: dict[tuple, Item] = {}
    axis_dirs: dict[str, str] = {}
    for ev in evaluations:
        wkey = json.dumps(ev.weights, sort_keys=True) if ev.weights else ""
        key = (ev.run_id, ev.checkpoint_id, wkey)
        item = items.get(key)
        if item is None:
            item = items[key] = Item(key, _label(ev, runs, checkpoints), ev.run_id, ev.checkpoint_id, ev.weights)
        axis = axis_name(ev)
        item.values[axis] = float(ev.value)
        item.produced_by.update(ev.produced_by or {})
        if axis not in axis_dirs:
            minimize = ev.metric.lower() in MINIMIZED_METRICS
            axis_dirs[axis] = "minimize" if minimize else directions.get(ev.objective, "maximize")
    return Table(list(items.values()), sorted(axis_dirs), axis_dirs)


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
    reference: np.ndarray  # [2] the hypervolume reference point (per-axis worst)
    hypervolume: float


def front_view(points: np.ndarray, directions: list[str]) -> FrontView:
    """Non-dominated set, drawing order and hypervolume against the per-axis worst point."""
    pts = np.asarray(points, dtype=float).reshape(-1, len(directions))
    finite = ~np.isnan(pts).any(axis=1)
    if not finite.any():
        empty = np.zeros(0, dtype=np.int64)
        return FrontView(pts, np.zeros(len(pts), dtype=bool), empty, np.full(len(directions), np.nan), 0.0)
    good = pts[finite]
    ref = np.array([good[:, m].min() if d == "maximize" else good[:, m].max() for m, d in enumerate(directions)])
    return FrontView(pts, non_dominated(pts, directions), front_order(pts, directions), ref,
                     hypervolume(good, ref, directions))
