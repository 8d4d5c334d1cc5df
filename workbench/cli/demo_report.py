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
