"""Render a weight sweep's front to a PNG without a screen (the headless demo's picture).

Qt stays in the ui layer (import-linter: cli must not import PySide6 itself), so `workbench demo --headless`
calls `save_front_png` and this module brings up an offscreen QApplication when none exists. The picture: every
mixture as a dot labelled with its weights, the non-dominated ones joined by a line in order along the first
axis, the pure (one-objective) mixtures ringed, and each axis named with the direction in which it is better.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

ARROWS = {"maximize": "higher is better \u2191", "minimize": "lower is better \u2193"}
SIZE = (900, 640)


def _application():
    """The running QApplication, or a new offscreen one (headless: no display needed)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import workbench.ui  # noqa: F401 - applies the PySide6 refcount workaround before any Qt call
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["workbench-front"])


def _weight_label(weights: dict[str, float], objectives: Sequence[str]) -> str:
    return "/".join(f"{weights.get(o, 0.0):.2f}" for o in objectives)


def build_plot(objectives: Sequence[str], directions: Sequence[str], vectors: Sequence[Sequence[float]],
               weights: Sequence[dict[str, float]], front: Sequence[int], title: str):
    """A pyqtgraph PlotWidget of the first two objectives (white background so the PNG prints well)."""
    import numpy as np
    import pyqtgraph as pg

    _application()
    plot = pg.PlotWidget(background="w")
    plot.resize(*SIZE)
    plot.setTitle(title, color="k", size="12pt")
    for side, m in (("bottom", 0), ("left", 1)):
        plot.setLabel(side, f"{objectives[m]} ({ARROWS[directions[m]]})", color="k")
        plot.getAxis(side).setTextPen("k")
        plot.getAxis(side).setPen("k")
        plot.getAxis(side).enableAutoSIPrefix(False)  # words and counts: "12", not "12 (x0.001)"
    # The legend goes in the corner that is better on both axes: no point can sit there without dominating all
    # the others, so it rarely hides one.
    corner = (10 if directions[0] == "minimize" else -10, 10 if directions[1] == "maximize" else -10)
    legend = plot.addLegend(offset=corner, labelTextColor="k", brush=pg.mkBrush(255, 255, 255, 220))
    pts = np.asarray(vectors, dtype=float)[:, :2]
    on_front = np.zeros(len(pts), dtype=bool)
    on_front[list(front)] = True
    plot.addItem(pg.ScatterPlotItem(pts[~on_front, 0], pts[~on_front, 1], size=11, brush=pg.mkBrush(160, 160, 160),
                                    pen=pg.mkPen(110, 110, 110), name="dominated mixture"))
    order = np.argsort(pts[on_front, 0], kind="stable")
    line = pts[on_front][order]
    plot.plot(line[:, 0], line[:, 1], pen=pg.mkPen((31, 119, 180), width=2))
    plot.addItem(pg.ScatterPlotItem(pts[on_front, 0], pts[on_front, 1], size=13, brush=pg.mkBrush(31, 119, 180),
                                    pen=pg.mkPen("k"), name="on the front (non-dominated)"))
    rings = 0
    stacked: dict[tuple[float, float], int] = {}  # labels of points at the same place go one above the other
    for i, (x, y) in enumerate(pts):
        above = stacked[(x, y)] = stacked.get((x, y), -1) + 1
        pure = max(weights[i].values(), default=0.0) >= 1.0 - 1e-9
        if pure:
            ring = pg.ScatterPlotItem([x], [y], size=24, brush=None, pen=pg.mkPen((214, 39, 40), width=2))
            plot.addItem(ring)
            if not rings:
                legend.addItem(ring, "all weight on one objective")
            rings += 1
        label = _weight_label(weights[i], objectives[:2])
        if not weights[i]:  # no weights: the untrained base model (issue 11: a point on every front)
            base = pg.ScatterPlotItem([x], [y], size=18, symbol="t", brush=None, pen=pg.mkPen("k", width=2))
            plot.addItem(base)
            legend.addItem(base, "base model (untrained)")
            label = "base model"
        if pure:
            label += f"  (all {max(weights[i], key=weights[i].get)})"
        text = pg.TextItem(label, color=(20, 20, 20), anchor=(0, 1 + above))
        text.setPos(x, y)
        plot.addItem(text)
    _pad(plot, pts)
    return plot


def _pad(plot, pts) -> None:
    """Leave room around the points so the labels at the edges stay inside the picture."""
    import numpy as np

    finite = pts[np.isfinite(pts).all(axis=1)]
    if len(finite) == 0:
        return
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, np.maximum(np.abs(hi), 1.0))
    plot.setXRange(lo[0] - 0.1 * span[0], hi[0] + 0.35 * span[0], padding=0)
    plot.setYRange(lo[1] - 0.1 * span[1], hi[1] + 0.15 * span[1], padding=0)


def save_front_png(path: str | Path, objectives: Sequence[str], directions: Sequence[str],
                   vectors: Sequence[Sequence[float]], weights: Sequence[dict[str, float]], front: Sequence[int],
                   title: str = "Trade-off front") -> Path:
    """Write the plot of the first two objectives to `path` (PNG) and return the path."""
    if len(objectives) < 2:
        raise ValueError("a front plot needs at least two objectives")
    plot = build_plot(objectives, directions, vectors, weights, front, title)
    app = _application()
    app.processEvents()
    image = plot.grab()
    path = Path(path)
    if not image.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    plot.close()
    plot.deleteLater()
    app.processEvents()
    return path
