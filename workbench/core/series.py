"""Metric series for live plots: growable numpy (step, value) arrays with bounded memory and TensorBoard-style
smoothing (DESIGN.md §3: events -> metric series in core -> plots redrawn on a timer).

Appends are amortised O(1): the buffers double until they hold `max_points` points. A series that would grow past
`max_points` is thinned uniformly: the stride doubles and every other stored point is dropped, and from then on
only every `stride`-th arriving point is kept — plus the newest point, which is always shown (it is replaced by the
next arrival when it is off the stride grid). So 1,000,000 logged steps cost at most `max_points` × 16 bytes (+ the
EMA cache) and still plot as an evenly sampled curve from the first to the latest step.

Steps are strictly increasing. A step at or before the last stored one means the run was resumed from an earlier
checkpoint: the points from that step on are discarded first, as TensorBoard's "purge orphaned data" does when a
restarted run logs a smaller step (tensorboard/backend/event_processing/event_accumulator.py, `purge_orphaned_data`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from workbench.core.entities import MetricPoint

DEFAULT_MAX_POINTS = 200_000


def ema_smooth(values: ArrayLike, smoothing: float, *, last: float = 0.0, count: int = 0
               ) -> tuple[np.ndarray, float, int]:
    """TensorBoard's debiased exponential moving average, vectorised; returns (smoothed, last, count).

    TensorBoard (tensorboard/webapp/widgets/line_chart_v2/lib/data_transformer.ts `classicSmoothing`; earlier
    vz_line_chart2/line-chart.ts `resmoothDataset`) runs, over the finite values x_1, x_2, ...:
        last_i = w · last_{i-1} + (1 − w) · x_i,  last_0 = 0,   smoothed_i = last_i / (1 − w^i)
    with w = `smoothing` in [0, 1) (0 = raw values). Dividing by 1 − w^i removes the bias towards the 0 start
    (the same correction as Adam's, Kingma & Ba 2015, §3). Non-finite values pass through unchanged and do not
    move the average. `last` and `count` carry the state from a previous call so that a series can be smoothed
    incrementally; the result equals one pass over the concatenation.

    Unrolled, last_i = w^i · (last_0 + (1 − w) Σ_{j<=i} x_j w^(−j)): a cumulative sum, computed in blocks short
    enough that w^(−j) stays below 1e100.
    """
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    x = np.asarray(values, dtype=float)
    out = x.copy()
    finite = np.isfinite(x)
    xs = x[finite]
    if xs.size == 0:
        return out, last, count
    if smoothing == 0.0:
        out[finite] = xs
        return out, float(xs[-1]), count + xs.size
    w = smoothing
    block = max(1, int(100.0 / -math.log10(w)))
    smoothed = np.empty_like(xs)
    for start in range(0, xs.size, block):
        chunk = xs[start : start + block]
        j = np.arange(1, chunk.size + 1, dtype=float)
        decay = w**j  # w^j, j = 1..L
        acc = decay * (last + (1.0 - w) * np.cumsum(chunk / decay))
        smoothed[start : start + block] = acc / (1.0 - w ** (count + j))
        last = float(acc[-1])
        count += chunk.size
    out[finite] = smoothed
    return out, last, count


def _grown(buffer: np.ndarray, size: int, used: int) -> np.ndarray:
    """A larger buffer holding the first `used` entries of `buffer` (geometric growth = amortised O(1))."""
    out = np.empty(size, dtype=buffer.dtype)
    out[:used] = buffer[:used]
    return out


@dataclass
class _EmaCache:
    """EMA of the permanent (on-grid) prefix of a series, with the filter state after it."""

    smoothing: float
    epoch: int
    upto: int
    values: np.ndarray
    last: float = 0.0
    count: int = 0


class MetricSeries:
    """One metric of one run as (step, value) arrays; see the module docstring for thinning and resumes."""

    def __init__(self, max_points: int = DEFAULT_MAX_POINTS, initial_capacity: int = 256) -> None:
        if max_points < 2:
            raise ValueError("a metric series must be able to hold at least 2 points")
        self.max_points = max_points
        cap = max(1, min(initial_capacity, max_points))
        self._steps = np.empty(cap, dtype=np.int64)
        self._values = np.empty(cap, dtype=np.float64)
        self._n = 0
        self.stride = 1  # keep every stride-th arrival (a power of two, grows when the series is thinned)
        self._arrivals = 0  # arrival index of the next point in the current stride regime
        self._provisional = False  # the last stored point is off the stride grid (replaced by the next arrival)
        self._epoch = 0  # bumped whenever stored points are dropped (resume, thinning): invalidates caches
        self._ema: _EmaCache | None = None
        self.version = 0  # bumped on every change, so a plot timer redraws only what changed

    # --- reading --------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def steps(self) -> np.ndarray:
        """Read-only view of the stored steps (valid until the next append)."""
        view = self._steps[: self._n]
        view.flags.writeable = False
        return view

    @property
    def values(self) -> np.ndarray:
        """Read-only view of the stored values (valid until the next append)."""
        view = self._values[: self._n]
        view.flags.writeable = False
        return view

    def last(self) -> tuple[int, float] | None:
        return (int(self._steps[self._n - 1]), float(self._values[self._n - 1])) if self._n else None

    @property
    def nbytes(self) -> int:
        """Memory held by the buffers (and the EMA cache), for the bounded-memory guarantee."""
        cache = self._ema.values.nbytes if self._ema else 0
        return self._steps.nbytes + self._values.nbytes + cache

    # --- writing --------------------------------------------------------------------------------------------
    def append(self, step: int, value: float) -> None:
        """Add one point: amortised O(1), no numpy temporaries (ingestion calls this per metric event)."""
        if self._n and step <= self._steps[self._n - 1]:
            self._truncate_from(int(step))
        if self._provisional:
            self._n -= 1
            self._provisional = False
        on_grid = self._arrivals % self.stride == 0
        while self._n + 1 > self.max_points:
            self._thin()
            on_grid = self._arrivals % self.stride == 0
        if self._n == self._steps.size:
            size = min(self.max_points, 2 * self._steps.size)
            self._steps = _grown(self._steps, size, self._n)
            self._values = _grown(self._values, size, self._n)
        self._steps[self._n] = step
        self._values[self._n] = value
        self._n += 1
        self._provisional = not on_grid
        self._arrivals += 1
        self.version += 1

    def append_many(self, steps: ArrayLike, values: ArrayLike) -> None:
        """Add points in arrival order; vectorised when the steps keep increasing (the usual batch)."""
        s = np.asarray(steps, dtype=np.int64).reshape(-1)
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if s.shape != v.shape:
            raise ValueError(f"steps and values differ in length: {s.size} vs {v.size}")
        if s.size == 0:
            return
        # Split where a step does not increase: each such point starts a resume (see module docstring).
        cuts = np.flatnonzero(np.diff(s) <= 0) + 1
        for seg_s, seg_v in zip(np.split(s, cuts), np.split(v, cuts)):
            if self._n and seg_s[0] <= self._steps[self._n - 1]:
                self._truncate_from(int(seg_s[0]))
            self._append_increasing(seg_s, seg_v)
        self.version += 1

    def _append_increasing(self, s: np.ndarray, v: np.ndarray) -> None:
        if self._provisional:
            self._n -= 1
            self._provisional = False
        arrivals = self._arrivals + np.arange(s.size)
        while True:
            keep = arrivals % self.stride == 0
            extra = int(not keep[-1])  # the newest point is kept even off the grid, provisionally
            if self._n + int(keep.sum()) + extra <= self.max_points:
                break
            self._thin()
        keep[-1] = True
        self._write(s[keep], v[keep])
        self._provisional = bool(extra)
        self._arrivals += s.size

    def _write(self, s: np.ndarray, v: np.ndarray) -> None:
        need = self._n + s.size
        if need > self._steps.size:
            cap = min(self.max_points, max(need, 2 * self._steps.size))
            self._steps = _grown(self._steps, cap, self._n)
            self._values = _grown(self._values, cap, self._n)
        self._steps[self._n : need] = s
        self._values[self._n : need] = v
        self._n = need

    def _thin(self) -> None:
        """Double the stride: keep the even-numbered permanent points (arrivals 0, 2s, 4s, ...)."""
        if self._provisional:
            self._n -= 1
            self._provisional = False
        kept = np.arange(0, self._n, 2)
        self._steps[: kept.size] = self._steps[kept]
        self._values[: kept.size] = self._values[kept]
        self._n = kept.size
        self.stride *= 2
        self._epoch += 1

    def _truncate_from(self, step: int) -> None:
        """Drop the points whose step is >= `step` (a resumed run logs them again)."""
        self._n = int(np.searchsorted(self._steps[: self._n], step, side="left"))
        self._provisional = False
        # The remaining points count as on the grid; the next arrival follows the last one.
        self._arrivals = (self._n - 1) * self.stride + 1 if self._n else 0
        self._epoch += 1

    def clear(self) -> None:
        self._n = 0
        self.stride = 1
        self._arrivals = 0
        self._provisional = False
        self._epoch += 1
        self.version += 1

    # --- smoothing ------------------------------------------------------------------------------------------
    def ema(self, smoothing: float) -> np.ndarray:
        """Smoothed copy of `values` (see `ema_smooth`; `smoothing` is TensorBoard's slider weight in [0, 1)).

        Incremental: the smoothed prefix and the filter state are cached, so a plot timer calling this after each
        batch of appends costs O(new points), not O(all points). The cache is rebuilt after a resume or thinning.
        """
        permanent = self._n - int(self._provisional)
        cache = self._ema
        if cache is None or cache.smoothing != smoothing or cache.epoch != self._epoch or cache.upto > permanent:
            cache = _EmaCache(smoothing, self._epoch, 0, np.empty(0))
        if cache.values.size < self._n:
            size = min(self.max_points, max(self._n, 2 * cache.values.size))
            cache.values = _grown(cache.values, size, cache.upto)
        new, cache.last, cache.count = ema_smooth(self._values[cache.upto : permanent], smoothing,
                                                  last=cache.last, count=cache.count)
        cache.values[cache.upto : permanent] = new
        cache.upto = permanent
        self._ema = cache
        out = cache.values[: self._n].copy()
        if self._provisional:
            out[-1:] = ema_smooth(self._values[self._n - 1 : self._n], smoothing, last=cache.last,
                                  count=cache.count)[0]
        return out


UNGROUPED = ""


class SeriesStore:
    """Metric series of one run keyed by metric name ("loss", "rewards/margins", "helpfulness/rewards/margins")."""

    def __init__(self, max_points_per_series: int = DEFAULT_MAX_POINTS) -> None:
        self.max_points_per_series = max_points_per_series
        self._series: dict[str, MetricSeries] = {}

    def series(self, key: str) -> MetricSeries:
        """The series for `key`, created empty on first use."""
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = MetricSeries(self.max_points_per_series)
        return found

    def get(self, key: str) -> MetricSeries | None:
        return self._series.get(key)

    def append(self, key: str, step: int, value: float) -> None:
        self.series(key).append(step, value)

    def extend(self, points: Iterable[MetricPoint | tuple[str, int, float]]) -> None:
        """Add a batch of points (MetricPoint or (key, step, value)), vectorised per key, order kept per key."""
        by_key: dict[str, tuple[list[int], list[float]]] = {}
        for p in points:
            key, step, value = (p.key, p.step, p.value) if isinstance(p, MetricPoint) else p
            steps, values = by_key.setdefault(key, ([], []))
            steps.append(step)
            values.append(value)
        for key, (steps, values) in by_key.items():
            self.series(key).append_many(steps, values)

    def keys(self) -> list[str]:
        return list(self._series)

    def __contains__(self, key: object) -> bool:
        return key in self._series

    def __iter__(self) -> Iterator[str]:
        return iter(self._series)

    def __len__(self) -> int:
        return len(self._series)

    @property
    def version(self) -> int:
        """Sum of the series' versions: changes whenever any series changes."""
        return sum(s.version for s in self._series.values())

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._series.values())

    def group_by_prefix(self) -> dict[str, list[str]]:
        """Keys grouped by the part before their first "/" ("rewards", "logps", an objective's name, ...), one
        plot per group. Keys without "/" ("loss", "grad_norm") go to the UNGROUPED ("") group. Groups and keys
        keep first-logged order."""
        groups: dict[str, list[str]] = {}
        for key in self._series:
            prefix, sep, _ = key.partition("/")
            groups.setdefault(prefix if sep else UNGROUPED, []).append(key)
        return groups
