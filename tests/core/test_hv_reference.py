"""Issue 11, item 4: the hypervolume reference point is the project's, not the points'."""

from __future__ import annotations

import math

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.hv_reference import ReferencePoint, hypervolume_report, merge_reference, parse_reference

AXES = ["brevity · score", "detail · score"]
DIRS = ["minimize", "maximize"]
BASE = ReferencePoint({AXES[0]: 40.0, AXES[1]: 10.0}, {AXES[0]: "base model", AXES[1]: "base model"})


def test_two_extreme_points_have_volume_and_a_dominated_point_changes_nothing():
    extremes = [[20.0, 12.0], [35.0, 20.0]]  # with the per-axis worst value as reference these gave 0
    first = hypervolume_report(extremes, AXES, DIRS, BASE)
    assert first.value == pytest.approx(20 * 2 + 5 * 8)  # (40-20)·(12-10) + (40-35)·(20-12)
    assert first.reference == [40.0, 10.0]
    second = hypervolume_report(extremes + [[36.0, 11.0]], AXES, DIRS, BASE)  # dominated by (35, 20)
    assert second.value == first.value
    assert first.text == ("hypervolume 80 (reference point: brevity · score 40 (base model), detail · score 10 "
                          "(base model))")


def test_missing_reference_says_so_and_gives_nan():
    report = hypervolume_report([[1.0, 2.0]], AXES, DIRS, ReferencePoint({AXES[0]: 40.0}))
    assert math.isnan(report.value) and not report.known
    assert report.text == ("hypervolume not measured: no reference value for detail · score (evaluate the base "
                           "model, or set one)")


def test_stored_form_prefers_the_users_value():
    point = merge_reference({AXES[0]: {"base": 40.0, "user": 30.0}, AXES[1]: {"base": 10.0},
                             "broken": {"base": "x"}, "kl": {"base": float("nan")}})
    assert point.values == {AXES[0]: 30.0, AXES[1]: 10.0}
    assert point.sources == {AXES[0]: "set by user", AXES[1]: "base model"}


def test_parse_reference():
    assert parse_reference("brevity=40, detail=10.5") == {"brevity": 40.0, "detail": 10.5}
    assert parse_reference("") == {}
    for bad in ("brevity", "brevity=x", "=3", "brevity=inf"):
        with pytest.raises(WorkbenchError, match="objective=value pairs"):
            parse_reference(bad)
