"""Metric series: TensorBoard EMA by hand, growth, resume truncation, uniform thinning, bounded memory, store."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.entities import MetricPoint
from workbench.core.series import UNGROUPED, MetricSeries, SeriesStore, ema_smooth


def loop_ema(values: list[float], w: float) -> list[float]:
    """TensorBoard's resmoothDataset loop, transcribed one step at a time."""
    last, n, out = 0.0, 0, []
    for x in values:
        if not math.isfinite(x):
            out.append(x)
            continue
        last = last * w + (1 - w) * x
        n += 1
        out.append(last / (1 - w**n))
    return out


def test_ema_by_hand() -> None:
    # w = 0.5 on 1, 2, 3: last = 0.5, 1.25, 2.125; debias 0.5, 0.75, 0.875 -> 1, 5/3, 17/7.
    out, last, count = ema_smooth([1.0, 2.0, 3.0], 0.5)
    assert out.tolist() == pytest.approx([1.0, 5 / 3, 17 / 7], abs=1e-15)
    assert (last, count) == (2.125, 3)
    # A NaN passes through and does not move the average: 1, nan, 3 -> 1, nan, 1.75 / 0.75.
    out, _, _ = ema_smooth([1.0, math.nan, 3.0], 0.5)
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx(7 / 3, abs=1e-15)
    assert ema_smooth([4.0, 8.0], 0.0)[0].tolist() == [4.0, 8.0]  # no smoothing
    assert ema_smooth([5.0] * 10, 0.9)[0] == pytest.approx(np.full(10, 5.0), abs=1e-12)  # constant stays put
    with pytest.raises(ValueError):
        ema_smooth([1.0], 1.0)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.floats(-1e3, 1e3), st.just(math.nan), st.just(math.inf)), max_size=300),
       w=st.sampled_from([0.0, 0.05, 0.3, 0.6, 0.9, 0.99, 0.999]), split=st.integers(0, 300))
def test_ema_matches_loop_and_is_incremental(values: list[float], w: float, split: int) -> None:
    expected = loop_ema(values, w)
    full, _, _ = ema_smooth(values, w)
    np.testing.assert_allclose(full, expected, rtol=1e-9, atol=1e-9)
    head, last, count = ema_smooth(values[:split], w)
    tail, _, _ = ema_smooth(values[split:], w, last=last, count=count)
    np.testing.assert_allclose(np.concatenate([head, tail]), expected, rtol=1e-9, atol=1e-9)


def test_ema_long_series_small_weight_does_not_overflow() -> None:
    # w = 0.1 makes w^-j overflow after ~300 steps without blocking.
    values = np.sin(np.arange(20_000) / 50.0)
    np.testing.assert_allclose(ema_smooth(values, 0.1)[0], loop_ema(values.tolist(), 0.1), rtol=1e-9, atol=1e-12)


def test_append_and_views() -> None:
    s = MetricSeries(initial_capacity=2)
    for step, value in [(0, 1.0), (1, 0.5), (5, 0.25)]:
        s.append(step, value)
    s.append_many([6, 7], [0.1, 0.2])
    assert s.steps.tolist() == [0, 1, 5, 6, 7]
    assert s.values.tolist() == [1.0, 0.5, 0.25, 0.1, 0.2]
    assert s.last() == (7, 0.2) and len(s) == 5
    with pytest.raises(ValueError):
        s.steps[0] = 3  # views are read-only
    with pytest.raises(ValueError, match="differ in length"):
        s.append_many([1, 2], [1.0])
    assert MetricSeries().last() is None


def test_resumed_run_replaces_points_from_the_resume_step() -> None:
    s = MetricSeries()
    s.append_many(range(10), np.arange(10.0))
    s.append(6, -6.0)  # resumed from the step-5 checkpoint: 6..9 are logged again
    assert s.steps.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert s.values[-1] == -6.0
    s.append_many([3, 4, 2, 3], [30.0, 40.0, 20.0, 31.0])  # two resumes inside one batch
    assert s.steps.tolist() == [0, 1, 2, 3]
    assert s.values.tolist() == [0.0, 1.0, 20.0, 31.0]


def test_thinning_keeps_uniform_grid_first_and_latest() -> None:
    s = MetricSeries(max_points=100)
    for i in range(1_000):
        s.append(i, float(i))
    assert len(s) <= 100
    assert s.stride == 16  # smallest power of two with ceil(1000 / stride) + 1 <= 100
    assert s.steps[0] == 0 and s.last() == (999, 999.0)
    assert np.all(s.steps[:-1] % 16 == 0) and np.all(np.diff(s.steps[:-1]) == 16)


def test_one_million_points_in_bounded_memory() -> None:
    s = MetricSeries()  # default cap
    for chunk in range(10):
        steps = np.arange(chunk * 100_000, (chunk + 1) * 100_000)
        s.append_many(steps, np.cos(steps / 1e4))
    assert len(s) <= s.max_points
    assert s.steps[0] == 0 and s.steps[-1] == 999_999
    assert s.nbytes <= 16 * s.max_points
    s.ema(0.6)
    assert s.nbytes <= 24 * s.max_points  # the EMA cache adds one float per point at most
    store = SeriesStore(max_points_per_series=50_000)
    store.extend(("loss", i, 1.0) for i in range(200_000))
    assert len(store.get("loss")) <= 50_000 and store.nbytes <= 16 * 50_000


ops = st.lists(st.tuples(st.integers(-3, 6), st.floats(-10, 10), st.booleans()), max_size=120)


@settings(max_examples=120, deadline=None)
@given(program=ops, max_points=st.integers(2, 12), w=st.sampled_from([0.0, 0.5, 0.95]))
def test_one_by_one_equals_batched_and_ema_cache_is_exact(program: list[tuple[int, float, bool]], max_points: int,
                                                          w: float) -> None:
    """Steps go mostly up with occasional resumes; ema() (cached) always equals a fresh smoothing pass."""
    one, batched = MetricSeries(max_points), MetricSeries(max_points)
    step, pending = 0, ([], [])
    for delta, value, flush in program:
        step = max(0, step + delta)
        one.append(step, value)
        pending[0].append(step)
        pending[1].append(value)
        if flush:
            batched.append_many(*pending)
            pending = ([], [])
            np.testing.assert_array_equal(one.steps, batched.steps)
            np.testing.assert_array_equal(one.values, batched.values)
        assert len(one) <= max_points and np.all(np.diff(one.steps) > 0)
        np.testing.assert_allclose(one.ema(w), ema_smooth(one.values, w)[0], rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.integers(0, 40), max_size=80))
def test_without_thinning_a_series_keeps_exactly_the_resume_semantics(steps: list[int]) -> None:
    """Reference: a list where a step <= the last one first drops every point with step >= it."""
    s, ref = MetricSeries(), []
    for i, step in enumerate(steps):
        ref = [(t, v) for t, v in ref if t < step]
        ref.append((step, float(i)))
        s.append(step, float(i))
    assert list(zip(s.steps.tolist(), s.values.tolist())) == ref


def test_ema_cache_follows_thinning_and_resume() -> None:
    s = MetricSeries(max_points=8)
    for i in range(30):
        s.append(i, float(i % 3))
        np.testing.assert_allclose(s.ema(0.7), ema_smooth(s.values, 0.7)[0])
    s.append(3, 9.0)
    np.testing.assert_allclose(s.ema(0.7), ema_smooth(s.values, 0.7)[0])
    assert s.ema(0.2).tolist() == pytest.approx(ema_smooth(s.values, 0.2)[0].tolist())


def test_version_changes_on_every_write() -> None:
    s = MetricSeries()
    v0 = s.version
    s.append(1, 1.0)
    s.append_many([2, 3], [1.0, 2.0])
    s.clear()
    assert s.version == v0 + 3 and len(s) == 0


def test_store_groups_by_prefix_in_logged_order() -> None:
    store = SeriesStore()
    store.extend([
        MetricPoint(run_id=1, step=1, key="loss", value=0.69),
        ("rewards/chosen", 1, 0.1), ("rewards/margins", 1, 0.2), ("logps/chosen", 1, -50.0),
        ("helpfulness/rewards/margins", 1, 0.3), ("grad_norm", 1, 1.5), ("rewards/chosen", 2, 0.15),
    ])
    store.append("loss", 2, 0.6)
    assert store.group_by_prefix() == {
        UNGROUPED: ["loss", "grad_norm"],
        "rewards": ["rewards/chosen", "rewards/margins"],
        "logps": ["logps/chosen"],
        "helpfulness": ["helpfulness/rewards/margins"],
    }
    assert store.get("rewards/chosen").values.tolist() == [0.1, 0.15]
    assert store.get("loss").steps.tolist() == [1, 2]
    assert "loss" in store and len(store) == 6 and store.get("nope") is None
    before = store.version
    store.append("grad_norm", 2, 1.0)
    assert store.version == before + 1
