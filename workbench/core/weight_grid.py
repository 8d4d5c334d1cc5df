"""The weight grid of a sweep: every weight vector on the simplex lattice. One rule for the GUI's Evaluate mixtures
dialog, `workbench eval --grid`, sweeps and the demo (issue #13: the GUI must not import the CLI layer for it)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

Weights = dict[str, float]


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
