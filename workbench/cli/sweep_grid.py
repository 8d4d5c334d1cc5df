"""Pure pieces of a weight sweep: the weight grid, reward vectors, their directions, the hypervolume reference
point and the printed table. No torch and no store, so the CLI, the demo and the GUI side can all use them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from workbench.core.run_config import RunConfig
from workbench.core.scorers import ScorerRegistry
from workbench.core.weight_grid import Weights, weight_grid  # noqa: F401 - re-exported: the grid lives in core


def reward_vector(values: Mapping[str, float], objectives: Sequence[str], cfg: RunConfig) -> list[float]:
    """One number per objective: `<k>/score` when k has an evaluation scorer, else `<k>/accuracy` (NaN if absent;
    a NaN point is left off the front, workbench.core.pareto)."""
    keys = [f"{k}/score" if k in cfg.eval_scorers else f"{k}/accuracy" for k in objectives]
    return [float(values.get(key, math.nan)) for key in keys]


def reward_directions(objectives: Sequence[str], cfg: RunConfig, registry: ScorerRegistry) -> list[str]:
    """Per objective: its scorer's direction (e.g. a length scorer is "minimize"), "maximize" for accuracy."""
    return [registry.get(cfg.eval_scorers[k]).direction if k in cfg.eval_scorers else "maximize"
            for k in objectives]


def reference_point(vectors: Sequence[Sequence[float]], directions: Sequence[str], points: int) -> list[float]:
    """The hypervolume reference: the worst value per objective, moved a further range/(points-1) outward.

    Ishibuchi et al. ("How to specify a reference point in hypervolume calculation for fair performance
    comparison", Evol. Comput. 26(3), 2018) recommend r = 1 + 1/H on normalised objectives for a lattice with H
    divisions; on raw values that is nadir + range/H. Extreme points then count, and the volume is comparable
    between sweeps with the same grid."""
    ref: list[float] = []
    h = max(1, points - 1)
    for m, direction in enumerate(directions):
        column = [v[m] for v in vectors if not math.isnan(v[m])]
        if not column:
            ref.append(0.0)
            continue
        lo, hi = min(column), max(column)
        pad = (hi - lo) / h or 1.0
        ref.append(lo - pad if direction == "maximize" else hi + pad)
    return ref


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
        table.append(["*" if i in set(front) else "", label, format_weights(weights), *cells])
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in table)
