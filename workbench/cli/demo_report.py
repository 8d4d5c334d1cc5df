"""What the headless demo prints: progress lines with elapsed time and an ETA, and the verdict on the front.

Pure (no torch, no store): the sweep hands over a SweepResult, these functions read it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from workbench.cli.sweep_grid import Weights, format_weights

_POINT = re.compile(r"point (\d+)/(\d+)")


class ProgressPrinter:
    """Prints each progress line once (workers repeat status lines), prefixed with the elapsed time.

    Training lines carry the trainer's own ETA; for the evaluation of the mixtures the ETA is estimated here from
    the mean time per finished point ("point n/N" in the evaluation worker's status)."""

    def __init__(self, out: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.clock = out, clock
        self.t0 = clock()
        self.last = ""
        self.point_started: dict[int, float] = {}

    def eta_text(self, line: str) -> str:
        m = _POINT.search(line)
        if not m or " eta " in line:
            return ""
        n, total = int(m.group(1)), int(m.group(2))
        now = self.clock()
        self.point_started.setdefault(n, now)
        first = self.point_started[min(self.point_started)]
        done = n - min(self.point_started)  # points finished since the first one was seen
        if done < 1:
            return ""
        per_point = (self.point_started[n] - first) / done
        remaining = per_point * (total - n + 1) - (now - self.point_started[n])
        return f"  eta {max(0.0, remaining):.0f}s"

    def __call__(self, line: str) -> None:
        text = line.rstrip()
        if not text or text == self.last:
            return
        self.last = text
        self.out(f"[{self.clock() - self.t0:5.0f}s] {text.strip()}{self.eta_text(text)}")


@dataclass(frozen=True)
class ExtremeCheck:
    """Does the mixture with all weight on `objective` score best on it among the pure (one-objective) mixtures?"""

    objective: str
    weights: Weights
    value: float
    others: dict[str, float]  # the other pure mixtures' values on this objective, by their objective
    best_of_all: bool  # ... and among every point of the grid (ties count as best)
    wins: bool


def _better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "maximize" else a < b


def extreme_checks(objectives: Sequence[str], directions: Sequence[str], weights: Sequence[Weights],
                   vectors: Sequence[Sequence[float]]) -> list[ExtremeCheck]:
    """One check per objective that has a pure mixture (weight 1 on it) in the grid; NaN values never win."""
    pure = {k: i for k in objectives for i, w in enumerate(weights) if math.isclose(w.get(k, 0.0), 1.0)}
    checks = []
    for m, (k, direction) in enumerate(zip(objectives, directions)):
        if k not in pure:
            continue
        value = vectors[pure[k]][m]
        others = {j: vectors[i][m] for j, i in pure.items() if j != k}
        column = [v[m] for v in vectors]
        wins = not math.isnan(value) and bool(others) and all(_better(value, o, direction) for o in others.values())
        best = not math.isnan(value) and not any(_better(v, value, direction) for v in column if not math.isnan(v))
        checks.append(ExtremeCheck(k, dict(weights[pure[k]]), value, others, best, wins))
    return checks


def verdict(checks: Sequence[ExtremeCheck], directions: dict[str, str]) -> list[str]:
    """Plain sentences: per objective whether its pure mixture won, then one overall line."""
    lines = []
    for c in checks:
        word = "fewer/lower" if directions[c.objective] == "minimize" else "more/higher"
        others = ", ".join(f"{c.objective} {v:.3g} with all weight on {j}" for j, v in c.others.items())
        mark = "wins" if c.wins else "does NOT win"
        best = " (the best of every mixture)" if c.best_of_all else ""
        lines.append(f"all weight on {c.objective} ({format_weights(c.weights)}): {c.objective} {c.value:.3g} "
                     f"{mark} on {c.objective} ({word} is better) against {others}{best}")
    if checks and all(c.wins for c in checks):
        lines.append("Result: each extreme weight wins on its own objective: mixing the heads moves the model along "
                     "the trade-off the labels describe.")
    else:
        lines.append("Result: NOT every extreme weight wins on its own objective in this short run; train longer "
                     "(--steps) or evaluate on more prompts (--eval-prompts) to separate them.")
    return lines


# --- does the front show the method working? (issue 11, item 7) -----------------------------------------------
MIN_SPREAD = 0.25  # the two extremes must differ by at least this share on every objective


@dataclass(frozen=True)
class TrendCheck:
    """One objective across the mixtures, in order of its weight: does its score move with the weight?"""

    objective: str
    weights: list[float]  # the objective's weight, ascending
    values: list[float]  # the objective's score at those weights
    breaks: list[tuple[float, float]]  # (from weight, to weight) steps where the score got worse
    spread: float  # |pure - other extreme| / |other extreme| (relative change from no weight to all weight)

    @property
    def monotone(self) -> bool:
        return not self.breaks

    @property
    def wide(self) -> bool:
        return self.spread >= MIN_SPREAD


def trend_checks(objectives: Sequence[str], directions: Sequence[str], weights: Sequence[Weights],
                 vectors: Sequence[Sequence[float]]) -> list[TrendCheck]:
    """Per objective, over the mixtures (points with weights; the base model has none): the score should improve
    (ties allowed) as the objective's weight grows, and all weight vs none should differ by MIN_SPREAD or more."""
    checks = []
    mixtures = [(w, v) for w, v in zip(weights, vectors) if w]
    for m, (k, direction) in enumerate(zip(objectives, directions)):
        ordered = sorted(((w.get(k, 0.0), v[m]) for w, v in mixtures), key=lambda p: p[0])
        if len(ordered) < 2:
            continue
        ws, vs = [w for w, _ in ordered], [v for _, v in ordered]
        breaks = [(ws[i], ws[i + 1]) for i in range(len(vs) - 1)
                  if math.isnan(vs[i]) or math.isnan(vs[i + 1]) or _better(vs[i], vs[i + 1], direction)]
        low, high = vs[0], vs[-1]
        spread = abs(high - low) / abs(low) if low else (math.inf if high != low else 0.0)
        checks.append(TrendCheck(k, ws, vs, breaks, spread))
    return checks


def trend_verdict(checks: Sequence[TrendCheck], directions: dict[str, str]) -> list[str]:
    """Plain sentences: per objective whether it moves monotonically with its weight (and where not), and how
    far apart the extremes are."""
    lines = []
    for c in checks:
        word = "fewer/lower" if directions[c.objective] == "minimize" else "more/higher"
        path = " → ".join(f"{v:.3g}" for v in c.values)
        if c.monotone:
            trend = f"improves monotonically with its weight ({word} is better): {path}"
        else:
            where = ", ".join(f"{a:.2f}→{b:.2f}" for a, b in c.breaks)
            trend = f"does NOT move monotonically with its weight ({path}); it gets worse at weights {where}"
        size = "at least" if c.wide else "LESS than"
        lines.append(f"{c.objective} {trend}; weight 0 vs 1 differ by {100 * c.spread:.0f}% ({size} "
                     f"{100 * MIN_SPREAD:.0f}%)")
    return lines
