"""Pareto dominance and hypervolume against brute force (O(N²) dominance, inclusion–exclusion, grid counting)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.pareto import dominated_by_counts, front_order, hypervolume, non_dominated

MAX2 = ("maximize", "maximize")


def brute_dominates(p: np.ndarray, q: np.ndarray, directions: tuple[str, ...]) -> bool:
    sign = np.array([1.0 if d == "maximize" else -1.0 for d in directions])
    p, q = p * sign, q * sign
    return bool(np.all(p >= q) and np.any(p > q))


def brute_counts(points: np.ndarray, directions: tuple[str, ...]) -> list[int]:
    return [sum(brute_dominates(p, q, directions) for p in points) for q in points]


def inclusion_exclusion_hv(points: np.ndarray, ref: np.ndarray) -> float:
    """Volume of the union of boxes [ref, p] (all maximised) by inclusion–exclusion over subsets."""
    boxes = [p for p in points if np.all(p > ref)]
    total = 0.0
    for k in range(1, len(boxes) + 1):
        for subset in itertools.combinations(boxes, k):
            corner = np.min(np.array(subset), axis=0)
            total += (-1) ** (k + 1) * float(np.prod(corner - ref))
    return total


def grid_count_hv(points: np.ndarray, ref: np.ndarray, top: int) -> int:
    """Count unit cells [c, c+1]^M above ref whose far corner c+1 some point weakly dominates (integer data)."""
    m = points.shape[1]
    count = 0
    for cell in itertools.product(*(range(int(ref[j]), top) for j in range(m))):
        far = np.array(cell) + 1
        if any(np.all(p >= far) for p in points):
            count += 1
    return count


directions_st = st.integers(1, 4).flatmap(lambda m: st.tuples(*[st.sampled_from(["maximize", "minimize"])] * m))


@settings(max_examples=80, deadline=None)
@given(directions=directions_st, data=st.data())
def test_dominance_counts_and_mask_match_brute_force(directions: tuple[str, ...], data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 14))
    # Small integer grid so ties and duplicates are frequent.
    rows = data.draw(st.lists(st.lists(st.integers(0, 4), min_size=len(directions), max_size=len(directions)),
                              min_size=n, max_size=n))
    pts = np.array(rows, dtype=float).reshape(n, len(directions))
    expected = brute_counts(pts, directions)
    assert dominated_by_counts(pts, directions).tolist() == expected
    assert non_dominated(pts, directions).tolist() == [c == 0 for c in expected]
    order = front_order(pts, directions)
    assert sorted(order.tolist()) == [i for i, c in enumerate(expected) if c == 0]
    assert np.all(np.diff(pts[order, 0]) >= 0)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), m=st.sampled_from([2, 3]))
def test_hypervolume_matches_inclusion_exclusion(data: st.DataObject, m: int) -> None:
    n = data.draw(st.integers(0, 7))
    floats = st.floats(-2.0, 3.0, allow_nan=False, allow_infinity=False)
    pts = np.array(data.draw(st.lists(st.lists(floats, min_size=m, max_size=m), min_size=n, max_size=n)))
    pts = pts.reshape(n, m)
    ref = np.array(data.draw(st.lists(st.floats(-2.0, 1.0), min_size=m, max_size=m)))
    got = hypervolume(pts, ref, ("maximize",) * m)
    assert got == pytest.approx(inclusion_exclusion_hv(pts, ref), rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), m=st.sampled_from([2, 3, 4]))
def test_hypervolume_matches_grid_count_on_integer_points(data: st.DataObject, m: int) -> None:
    top = 5
    n = data.draw(st.integers(1, 12))
    pts = np.array(data.draw(st.lists(st.lists(st.integers(0, top), min_size=m, max_size=m), min_size=n,
                                      max_size=n)), dtype=float)
    ref = np.zeros(m)
    assert hypervolume(pts, ref, ("maximize",) * m) == grid_count_hv(pts, ref, top)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_minimize_is_maximize_of_negated_values(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 10))
    pts = np.array(data.draw(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)),
                                      min_size=n, max_size=n)), dtype=float)
    ref = np.array([10.0, -1.0, 10.0])
    mixed = ("minimize", "maximize", "minimize")
    flipped = pts * np.array([-1.0, 1.0, -1.0])
    assert hypervolume(pts, ref, mixed) == hypervolume(flipped, ref * np.array([-1, 1, -1]), ("maximize",) * 3)
    assert non_dominated(pts, mixed).tolist() == non_dominated(flipped, ("maximize",) * 3).tolist()


def test_staircase_area_by_hand() -> None:
    # Three steps above the origin: (1,3), (2,2), (3,1) -> area 3 + 2 + 1 = 6.
    pts = [[1, 3], [2, 2], [3, 1]]
    assert hypervolume(pts, [0, 0], MAX2) == 6.0
    # A dominated point inside the staircase adds nothing; a point beyond it adds its own strip.
    assert hypervolume(pts + [[1, 1]], [0, 0], MAX2) == 6.0
    assert hypervolume(pts + [[4, 1]], [0, 0], MAX2) == 7.0
    # Reference moved to (1, 1): only the parts above it count: (0*2) + 1*1 + 2*0 -> 1.
    assert hypervolume(pts, [1, 1], MAX2) == 1.0


def test_points_not_dominating_the_reference_contribute_nothing() -> None:
    assert hypervolume([[5, 0], [0, 5], [-1, 9]], [0, 0], MAX2) == 0.0
    assert hypervolume([[5, 0], [2, 2]], [0, 0], MAX2) == 4.0
    assert hypervolume(np.empty((0, 3)), [0, 0, 0], ("maximize",) * 3) == 0.0


def test_3d_cube_union_by_hand() -> None:
    # Two unit-overlapping boxes: 2x1x1 and 1x2x1 share a 1x1x1 cube -> 2 + 2 - 1 = 3; a third 1x1x3 adds 2.
    pts = [[2, 1, 1], [1, 2, 1], [1, 1, 3]]
    assert hypervolume(pts[:2], [0, 0, 0], ("maximize",) * 3) == 3.0
    assert hypervolume(pts, [0, 0, 0], ("maximize",) * 3) == 5.0


def test_minimize_objectives_hand_example() -> None:
    # Loss-like objectives (lower is better) with reference (10, 10): boxes 8x2 and 2x8 overlap in 2x2 -> 28.
    pts = [[2, 8], [8, 2]]
    assert hypervolume(pts, [10, 10], ("minimize", "minimize")) == 28.0
    assert math.isclose(hypervolume([[0.5, 8]], [0, 10], ("maximize", "minimize")), 1.0)


def test_front_order_sorts_front_along_first_objective() -> None:
    pts = np.array([[3.0, 1.0], [1.0, 3.0], [2.0, 2.0], [1.0, 1.0], [2.0, 2.0], [0.5, 0.5]])
    order = front_order(pts, MAX2)
    assert order.tolist() == [1, 2, 4, 0]
    assert pts[order, 0].tolist() == [1.0, 2.0, 2.0, 3.0]
    # Minimising the second objective changes which points are on the front.
    assert front_order(pts, ("maximize", "minimize")).tolist() == [5, 0]


def test_nan_rows_are_incomparable_and_never_on_the_front() -> None:
    pts = [[1.0, 1.0], [np.nan, 5.0], [0.0, 0.0]]
    assert non_dominated(pts, MAX2).tolist() == [True, False, False]
    assert dominated_by_counts(pts, MAX2).tolist() == [0, 0, 1]
    assert hypervolume(pts, [-1, -1], MAX2) == 4.0
    assert front_order(pts, MAX2).tolist() == [0]


def test_bad_directions_are_rejected() -> None:
    with pytest.raises(ValueError, match="one direction per objective"):
        non_dominated([[1, 2]], ["maximize"])
    with pytest.raises(ValueError, match="'maximize' or 'minimize'"):
        non_dominated([[1, 2]], ["maximize", "max"])
    with pytest.raises(ValueError, match="2-D"):
        non_dominated([1, 2], ["maximize"])


def test_large_front_is_exact_and_blocked() -> None:
    # 3000 points on the line x + y = 1 are all non-dominated; the blocked O(N²) test must agree.
    x = np.linspace(0.0, 1.0, 3000)
    pts = np.column_stack([x, 1.0 - x])
    assert non_dominated(pts, MAX2).all()
    # HV of a dense anti-diagonal staircase tends to the triangle area 1/2 from below.
    hv = hypervolume(pts, [0.0, 0.0], MAX2)
    assert 0.4995 < hv < 0.5
