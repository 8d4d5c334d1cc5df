"""Pure pieces of a weight sweep: the weight grid, reward vectors, their axes and directions, and the printed
table (the hypervolume reference point is the project's: workbench.core.hv_reference). No torch and no store, so
the CLI, the demo and the GUI side can all use them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

from workbench.core.hv_reference import axis_key
from workbench.core.run_config import RunConfig
from workbench.core.scorers import ScorerRegistry

Weights = dict[str, float]
BASE_LABEL = "base model"  # the row of the untrained base model (issue 11: a point on every front)


def weight_grid(objectives: Sequence[str], points: int) -> list[Weights]:
    """Every weight vector on the simplex lattice with `points` values per axis (0, 1/(points-1), ..., 1).

    Two objectives give `points` vectors from all-first to all-second; K objectives give C(points+K-2, K-1)
    (the simplex-lattice design, Scheffé 1958, used for MOO weight vectors by Das & Dennis 1998)."""
    k = len(objectives)
    if k == 0:
        raise ValueError("a weight grid needs at least one objective")
    if points < 2 or k == 1:
        return [{o: 1.0 / k for o in objectives}]
    steps = points - 1
    grid: list[Weights] = []
    # stars and bars: choose k-1 bar positions among steps+k-1 slots; the gaps are the counts per objective
    for bars in combinations(range(steps + k - 1), k - 1):
        edges = (-1, *bars, steps + k - 1)
        counts = [edges[i + 1] - edges[i] - 1 for i in range(k)]
        grid.append({o: c / steps for o, c in zip(objectives, counts)})
    grid.sort(key=lambda w: [-w[o] for o in objectives])  # all weight on the first objective comes first
    return grid


def reward_vector(values: Mapping[str, float], objectives: Sequence[str], cfg: RunConfig) -> list[float]:
    """One number per objective: `<k>/score` when k has an evaluation scorer, else `<k>/accuracy` (NaN if absent;
    a NaN point is left off the front, workbench.core.pareto)."""
    keys = [f"{k}/score" if k in cfg.eval_scorers else f"{k}/accuracy" for k in objectives]
    return [float(values.get(key, math.nan)) for key in keys]


def reward_axes(objectives: Sequence[str], cfg: RunConfig) -> list[str]:
    """The Trade-offs panel's axis name of each component of reward_vector ("brevity · score")."""
    return [axis_key(k, "score" if k in cfg.eval_scorers else "accuracy") for k in objectives]


def reward_directions(objectives: Sequence[str], cfg: RunConfig, registry: ScorerRegistry) -> list[str]:
    """Per objective: its scorer's direction (e.g. a length scorer is "minimize"), "maximize" for accuracy."""
    return [registry.get(cfg.eval_scorers[k]).direction if k in cfg.eval_scorers else "maximize"
            for k in objectives]


def format_weights(weights: Mapping[str, float] | None) -> str:
    if not weights:
        return "as trained"
    return " ".join(f"{k}={v:.2f}" for k, v in weights.items())


def format_table(objectives: Sequence[str], rows: Sequence[tuple[str, Mapping[str, float] | None, Sequence[float],
                                                                 Mapping[str, float]]],
                 front: Sequence[int] = (), directions: Sequence[str] = ()) -> str:
    """A fixed-width table: one row per point (label, weights, reward vector, kl, length), '*' on the front."""
    arrows = {"maximize": "↑", "minimize": "↓"}
    heads = [f"{o}{arrows.get(d, '')}" for o, d in zip(objectives, directions or ["maximize"] * len(objectives))]
    table = [["", "point", "weights", *heads, "kl", "length"]]
    for i, (label, weights, vector, values) in enumerate(rows):
        cells = [f"{x:.4g}" for x in vector] + [f"{values.get('kl', math.nan):.4g}",
                                                 f"{values.get('length', math.nan):.4g}"]
        weights_cell = "untrained" if label == BASE_LABEL else format_weights(weights)
        table.append(["*" if i in set(front) else "", label, weights_cell, *cells])
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in table)
