"""EtaClock: fraction done and seconds left from the mean time per unit so far."""

from __future__ import annotations

import pytest

from workbench.core.eta import EtaClock, eta_text


def test_eta_is_mean_time_per_unit_times_units_left():
    now = [100.0]
    clock = EtaClock(10, clock=lambda: now[0])
    assert clock.update(0) == (0.0, None)  # nothing done: no estimate yet
    now[0] = 104.0
    assert clock.update(2) == (0.2, pytest.approx(16.0))  # 2 s per unit, 8 units left
    now[0] = 120.0
    assert clock.update(10) == (1.0, 0.0)
    assert EtaClock(0).update(0) == (1.0, 0.0)


def test_eta_text():
    assert eta_text(None) == ""
    assert eta_text(42.4) == ", about 42 s left"
    assert eta_text(600) == ", about 10 min left"
    assert eta_text(7200) == ", about 2.0 h left"
