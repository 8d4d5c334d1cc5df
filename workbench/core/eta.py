"""Progress with an estimated time left, for passes whose units of work cost about the same (issue #14).

The estimate is the mean time per unit so far times the units left: simple, monotone in the work done, and right
for a length-sorted pass once the first batches are in (the first update, with nothing done, has no estimate).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class EtaClock:
    """`update(done)` -> (fraction done, seconds left or None) for `total` units started when the clock was made."""

    def __init__(self, total: int, clock: Callable[[], float] = time.perf_counter) -> None:
        self.total, self.clock, self.start = max(0, total), clock, clock()

    def update(self, done: int) -> tuple[float, float | None]:
        if self.total == 0:
            return 1.0, 0.0
        done = min(max(done, 0), self.total)
        fraction = done / self.total
        if done == 0:
            return fraction, None
        elapsed = self.clock() - self.start
        return fraction, elapsed / done * (self.total - done)


def format_duration(seconds: float) -> str:
    """'42 s', '10 min', '2.0 h' ('—' without a finite value): how every ETA and time estimate is written."""
    if not math.isfinite(seconds):
        return "—"
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def eta_text(seconds: float | None) -> str:
    """', about 3 min left' (empty without an estimate), for status messages."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    return f", about {format_duration(seconds)} left"
