"""Pure pieces of a weight sweep: the weight grid, reward vectors, their axes and directions, and the printed
table (the hypervolume reference point is the project's: workbench.core.hv_reference). No torch and no store, so
the CLI, the demo and the GUI side can all use them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from workbench.core.hv_reference import axis_key
from workbench.core.run_config import RunConfig
from workbench.core.scorers import ScorerRegistry
from workbench.core.weight_grid import Weights, weight_grid  # noqa: F401 - re-exported: the grid lives in core

BASE_LABEL = "base model"  # the row of the untrained base model (issue 11: a point on every front)


def reward_metric(objective: str, cfg: RunConfig) -> str:
    """The metric that stands for an objective's reward in a sweep: its evaluation scorer's `score`, else the vector
    reward model's `reward` (cfg.eval_reward_model), else held-out `accuracy`."""
    if objective in cfg.eval_scorers:
        return "score"
    return "reward" if cfg.eval_reward_model else "accuracy"


def reward_vector(values: Mapping[str, float], objectives: Sequence[str], cfg: RunConfig) -> list[float]:
    """One number per objective: `<k>/<reward_metric>` (NaN if absent, e.g. an objective the reward model was not
    trained on; a NaN point is left off the front, workbench.core.pareto)."""
    return [float(values.get(f"{k}/{reward_metric(k, cfg)}", math.nan)) for k in objectives]


def reward_axes(objectives: Sequence[str], cfg: RunConfig) -> list[str]:
    """The Trade-offs panel's axis name of each component of reward_vector ("brevity · score")."""
    return [axis_key(k, reward_metric(k, cfg)) for k in objectives]


def reward_directions(objectives: Sequence[str], cfg: RunConfig, registry: ScorerRegistry) -> list[str]:
    """Per objective: its scorer's direction (e.g. a length scorer is "minimize"), "maximize" for a reward model's
    reward and for accuracy."""
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
