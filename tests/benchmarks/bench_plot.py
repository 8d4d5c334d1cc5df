"""Live-plot frame rate: the Runs panel's MetricPlots widget holding up to 1,000,000 points per curve.

Each frame appends a batch of new points (as a streaming run does), pushes the changed series to the curves
(`MetricPlots.redraw`: float64 x, a copy of y, the incremental EMA; above ENVELOPE_ABOVE points the min/max
envelope of the whole series, as the plot follows the run) and repaints the plot synchronously
(`viewport().repaint()`, offscreen raster). Frames/s = frames / wall time of both. Target: >= 30 fps at 10^6 points.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_plot.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

import workbench.ui  # noqa: E402,F401  (PySide6 refcount workaround first)
from PySide6.QtWidgets import QApplication  # noqa: E402

from workbench.core.series import SeriesStore  # noqa: E402
from workbench.ui.widgets.metric_plots import MetricPlots  # noqa: E402

FRAMES = 60
BATCH = 100  # points appended per frame


def noisy_loss(start: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(start + 1, start + n + 1)
    return steps, 2.0 / np.sqrt(steps) + 0.2 * rng.standard_normal(n)


def measure(app: QApplication, points: int, smoothing: float) -> dict[str, float]:
    rng = np.random.default_rng(0)
    store = SeriesStore(max_points_per_series=2 * points + FRAMES * BATCH)
    store.series("loss").append_many(*noisy_loss(0, points, rng))
    plots = MetricPlots(lambda _run: store)
    plots.timer.stop()  # frames are driven here, not by the widget's own timer
    plots.slider.setValue(int(smoothing * 100))
    plots.resize(1100, 700)
    plots.show()
    plots.set_runs([1], {1: "bench"})
    while not plots.is_current():
        plots.redraw()
    app.processEvents()
    view = plots.plots["loss"]
    view.viewport().repaint()
    n = len(store.get("loss"))
    t_data = t_paint = 0.0
    t0 = time.perf_counter()
    for _ in range(FRAMES):
        store.series("loss").append_many(*noisy_loss(n, BATCH, rng))
        n += BATCH
        a = time.perf_counter()
        plots.redraw()
        b = time.perf_counter()
        view.viewport().repaint()
        t_paint += time.perf_counter() - b
        t_data += b - a
    wall = time.perf_counter() - t0
    x, _ = plots.curve_data(1, "loss")
    assert len(x) == n, (len(x), n)  # the curve holds every point
    plots.stop()
    plots.close()
    plots.deleteLater()
    app.processEvents()
    return {"points": n, "smoothing": smoothing, "data_ms": 1000 * t_data / FRAMES,
            "paint_ms": 1000 * t_paint / FRAMES, "fps": FRAMES / wall}


def main() -> int:
    app = QApplication.instance() or QApplication([])
    rows = [measure(app, p, s) for p in (10_000, 100_000, 1_000_000) for s in (0.0, 0.6)]
    print(f"{'points':>10} {'smoothing':>9} {'setData+EMA ms':>15} {'paint ms':>9} {'frames/s':>9}")
    for r in rows:
        print(f"{r['points']:>10,} {r['smoothing']:>9.2f} {r['data_ms']:>15.1f} {r['paint_ms']:>9.1f} "
              f"{r['fps']:>9.1f}")
    worst = min(r["fps"] for r in rows if r["points"] >= 1_000_000)
    print(f"\n1,000,000-point live plot: {worst:.1f} frames/s (target >= 30): {'OK' if worst >= 30 else 'TOO SLOW'}")
    return 0 if worst >= 30 else 1


if __name__ == "__main__":
    sys.exit(main())
