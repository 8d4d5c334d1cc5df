"""The hypervolume reference point of a project: a property of its objectives, not of the points drawn (issue 11).

A hypervolume is only comparable between two fronts measured from the same reference point. Taking the worst value
of the points shown (a nadir estimated from the data) makes the number move when a dominated point is added and
gives two extreme points a volume of 0. So the reference point is fixed per project: by default the reward vector
of the untrained base model (measured once by the first evaluation that includes the base model, then stored), and
each axis can be set by the user (Trade-offs panel, `workbench sweep --reference`). Every hypervolume the program
shows goes through `hypervolume_report`, so the GUI and the CLI give the same number for the same points, always
together with the reference point it was measured from.

Axes are named as the Trade-offs panel names them: "<objective> · <metric>" (e.g. "brevity · score").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from workbench.core.errors import WorkbenchError
from workbench.core.pareto import hypervolume

BASE_MODEL = "base model"  # source of a value measured on the untrained base model
USER = "set by user"


def axis_key(objective: str, metric: str) -> str:
    """The axis name of an objective's reward component ("brevity · score"); the store keys values by it."""
    return f"{objective} · {metric}"


@dataclass(frozen=True)
class ReferencePoint:
    """The project's reference value per axis and where each came from (BASE_MODEL or USER)."""

    values: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def for_axes(self, axes: Sequence[str]) -> list[float]:
        """One value per axis; NaN where the project has none yet."""
        return [float(self.values.get(a, math.nan)) for a in axes]

    def missing(self, axes: Sequence[str]) -> list[str]:
        return [a for a in axes if not math.isfinite(self.values.get(a, math.nan))]

    def describe(self, axes: Sequence[str]) -> str:
        """"brevity · score 38.2 (base model), detail · score 12 (set by user)"."""
        parts = []
        for a in axes:
            v = self.values.get(a, math.nan)
            parts.append(f"{a} {v:.4g} ({self.sources.get(a, BASE_MODEL)})" if math.isfinite(v) else f"{a} not set")
        return ", ".join(parts)


@dataclass(frozen=True)
class HypervolumeReport:
    """A hypervolume and the reference point it was measured from; `value` is NaN when the point is incomplete."""

    value: float
    reference: list[float]
    text: str  # "hypervolume 4.12 (reference point: ...)" or why there is none

    @property
    def known(self) -> bool:
        return math.isfinite(self.value)


def hypervolume_report(points: Sequence[Sequence[float]], axes: Sequence[str], directions: Sequence[str],
                       reference: ReferencePoint) -> HypervolumeReport:
    """The hypervolume of `points` (rows over `axes`) against the project's reference point, with its text."""
    ref = reference.for_axes(axes)
    missing = reference.missing(axes)
    if missing:
        return HypervolumeReport(math.nan, ref, f"hypervolume not measured: no reference value for "
                                                f"{', '.join(missing)} (evaluate the base model, or set one)")
    rows = [list(p) for p in points]
    value = hypervolume(rows, ref, list(directions)) if rows else 0.0
    return HypervolumeReport(value, ref, f"hypervolume {value:.4g} (reference point: {reference.describe(axes)})")


def parse_reference(text: str) -> dict[str, float]:
    """`--reference "brevity=40,detail=10"` -> {"brevity": 40.0, "detail": 10.0} (names are objectives)."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name.strip() or not math.isfinite(number):
            raise WorkbenchError(f"--reference takes objective=value pairs separated by commas, e.g. "
                                 f"'brevity=40,detail=10'; could not read {part!r}")
        out[name.strip()] = number
    return out


def merge_reference(stored: Mapping[str, Mapping[str, object]]) -> ReferencePoint:
    """The stored form {axis: {"base": v, "user": u}} as a ReferencePoint: the user's value where set, else the
    base model's (unreadable or non-finite entries are skipped)."""
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for axis, entry in stored.items():
        for key, source in (("user", USER), ("base", BASE_MODEL)):
            try:
                v = float(entry[key])  # type: ignore[arg-type]
            except (KeyError, TypeError, ValueError):
                continue
            if math.isfinite(v):
                values[str(axis)], sources[str(axis)] = v, source
                break
    return ReferencePoint(values, sources)
