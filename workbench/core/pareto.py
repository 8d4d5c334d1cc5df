"""Pareto dominance, non-dominated fronts and exact hypervolume for the Trade-offs panel (DESIGN.md §6).

Every function takes `points` of shape [N, M] (one row per checkpoint or mixture, one column per objective) and
one direction per column ("maximize" or "minimize"). Internally each column is flipped so that larger is better;
results never depend on how a column's direction is spelled.

Dominance (Deb, "Multi-Objective Optimization Using Evolutionary Algorithms", 2001, Def. 2.5; for maximisation):
p dominates q  <=>  p_m >= q_m for every objective m  and  p_m > q_m for at least one m.
Two equal points do not dominate each other, so duplicates on the front are all kept.

A row holding NaN (an objective not evaluated yet) is incomparable: it dominates nothing, nothing dominates it,
and it is never reported as non-dominated (a point with a missing value cannot be drawn on a front).

Hypervolume (Zitzler & Thiele, "Multiobjective Optimization Using Evolutionary Algorithms — A Comparative Case
Study", PPSN 1998, the "size of the space covered"): the Lebesgue measure of the union of the boxes spanned by the
reference point and each point that strictly dominates it. Computed exactly: a sort-and-sweep in 2D, and for
M >= 3 by slicing along the last objective ("Hypervolume by Slicing Objectives", While, Hingston, Barone & Huband,
IEEE TEVC 10(1), 2006), which recurses down to the 2D sweep. Cost is O(N log N) for M = 2, O(N² log N) for M = 3
and grows as O(N^(M-1) log N) beyond, which is fine for the tens to hundreds of checkpoints a project holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

DIRECTIONS = ("maximize", "minimize")

# Rows compared per block in the O(N²) dominance test: bounds the [block, N, M] boolean temporaries to ~32 MB.
_BLOCK_ELEMENTS = 32_000_000


def _as_maximized(points: ArrayLike, directions: Sequence[str]) -> np.ndarray:
    """Return a float [N, M] copy where every column is to be maximised (minimised columns are negated)."""
    arr = np.array(points, dtype=float)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, len(directions))
    if arr.ndim != 2:
        raise ValueError(f"points must be a 2-D array [N, M], got shape {arr.shape}")
    if isinstance(directions, str) or len(directions) != arr.shape[1]:
        raise ValueError(f"give one direction per objective: {arr.shape[1]} objective(s), directions={directions!r}")
    for m, d in enumerate(directions):
        if d not in DIRECTIONS:
            raise ValueError(f"direction of objective {m} must be 'maximize' or 'minimize', not {d!r}")
        if d == "minimize":
            arr[:, m] = -arr[:, m]
    return arr


def _dominance_counts(pts: np.ndarray) -> np.ndarray:
    """For maximised points [N, M], how many rows dominate each row (NaN rows: 0, see module docstring)."""
    n, m = pts.shape
    counts = np.zeros(n, dtype=np.int64)
    if n == 0:
        return counts
    block = max(1, _BLOCK_ELEMENTS // max(1, n * m))
    for start in range(0, n, block):
        q = pts[start : start + block]  # (B, M): the rows being tested
        ge = pts[None, :, :] >= q[:, None, :]  # (B, N, M): does row j weakly beat row i on objective m
        gt = pts[None, :, :] > q[:, None, :]
        dominates = ge.all(axis=2) & gt.any(axis=2)  # (B, N): row j dominates row i
        counts[start : start + block] = dominates.sum(axis=1)
    return counts


def dominated_by_counts(points: ArrayLike, directions: Sequence[str]) -> np.ndarray:
    """How many of the given points dominate each point (0 = on the front; the count is the "domination count"
    of NSGA-II's fast non-dominated sort, Deb et al., IEEE TEVC 6(2), 2002)."""
    return _dominance_counts(_as_maximized(points, directions))


def non_dominated(points: ArrayLike, directions: Sequence[str]) -> np.ndarray:
    """Boolean mask [N]: True where no other point dominates the point (and the point has no NaN)."""
    pts = _as_maximized(points, directions)
    finite = ~np.isnan(pts).any(axis=1)
    if pts.shape[1] == 2:
        mask = np.zeros(pts.shape[0], dtype=bool)
        mask[finite] = _front_mask_2d(pts[finite])
        return mask
    return (_dominance_counts(pts) == 0) & finite


def _front_mask_2d(pts: np.ndarray) -> np.ndarray:
    """O(N log N) non-dominated mask of NaN-free maximised 2-D points (Kung, Luccio & Preparata, JACM 1975).

    Sorted by x then y, both descending, every point before p's group of exact duplicates has x > p_x, or
    x = p_x and y > p_y; so p is dominated iff the largest y seen before its group is >= p_y."""
    order = np.lexsort((-pts[:, 1], -pts[:, 0]))
    xs, ys = pts[order, 0], pts[order, 1]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (xs[1:] != xs[:-1]) | (ys[1:] != ys[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(order)), 0))
    best = np.concatenate(([-np.inf], np.maximum.accumulate(ys)))
    mask = np.empty(len(order), dtype=bool)
    mask[order] = best[group_start] < ys
    return mask


def front_order(points: ArrayLike, directions: Sequence[str]) -> np.ndarray:
    """Indices of the non-dominated points, sorted by the first objective's value ascending (ties by the next
    objectives), in the order a front line is drawn through them. Use `points[front_order(...)]`."""
    arr = np.asarray(points, dtype=float)
    mask = non_dominated(arr, directions)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return idx
    sub = arr[idx]
    order = np.lexsort(tuple(sub[:, m] for m in range(sub.shape[1] - 1, -1, -1)))
    return idx[order]


def _hv_2d(pts: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by maximised 2-D points that strictly beat `ref` (sweep in decreasing x)."""
    order = np.lexsort((-pts[:, 1], -pts[:, 0]))  # x descending, then y descending
    xs = pts[order, 0] - ref[0]
    ys = pts[order, 1]
    # Each point adds the strip between the best y seen so far and its own y, of width (x - ref_x).
    best_before = np.maximum.accumulate(np.concatenate(([ref[1]], ys)))[:-1]
    gain = np.clip(ys - best_before, 0.0, None)
    return float(np.sum(xs * gain))


def _hv_slices(pts: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume of maximised points that strictly beat `ref`, for any M >= 1 (HSO recursion)."""
    m = pts.shape[1]
    if pts.shape[0] == 0:
        return 0.0
    if m == 1:
        return float(pts[:, 0].max() - ref[0])
    if m == 2:
        return _hv_2d(pts, ref)
    # Slice along the last objective: between consecutive levels z_i > z_{i+1} the cross-section is the
    # (M-1)-dimensional hypervolume of the points whose last objective is >= z_i.
    order = np.argsort(-pts[:, -1], kind="stable")
    pts = pts[order]
    levels = np.append(pts[:, -1], ref[-1])
    total = 0.0
    for i in range(pts.shape[0]):
        depth = levels[i] - levels[i + 1]
        if depth > 0:
            total += depth * _hv_slices(pts[: i + 1, :-1], ref[:-1])
    return total


def hypervolume(points: ArrayLike, reference: ArrayLike, directions: Sequence[str]) -> float:
    """Exact hypervolume of `points` with respect to `reference` (same units and directions as the points).

    Points that do not strictly dominate the reference in every objective contribute nothing, as do NaN rows.
    Larger is better for any direction mix: the volume is measured after flipping minimised objectives.
    """
    pts = _as_maximized(points, directions)
    ref = _as_maximized(np.asarray(reference, dtype=float).reshape(1, -1), directions)[0]
    if np.isnan(ref).any():
        raise ValueError("the hypervolume reference point must not contain NaN")
    with np.errstate(invalid="ignore"):
        keep = (pts > ref).all(axis=1)  # NaN compares False, so NaN rows drop out here
    pts = pts[keep]
    if pts.shape[0] > 1 and pts.shape[1] >= 3:
        # Dominated points add no volume; dropping them first keeps the slicing recursion small (the 2-D sweep
        # skips them by itself in O(N log N)).
        pts = pts[_dominance_counts(pts) == 0]
    return _hv_slices(pts, ref)
