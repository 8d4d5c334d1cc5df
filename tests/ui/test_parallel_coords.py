"""Parallel coordinates stay readable in the dark theme (issue #13 bug 8): the plot follows a palette switch and
its dominated lines are light and opaque enough to see on a dark background."""

from __future__ import annotations

import numpy as np

from workbench.ui.theme import plot_colors, set_dark
from workbench.ui.widgets.parallel_coords import ParallelCoordinates


def test_parallel_coordinates_follow_the_dark_palette(qtbot, qapp):
    set_dark(qapp, False)
    try:
        plot = ParallelCoordinates()
        qtbot.addWidget(plot)
        values = np.array([[0.1, 0.2, 0.3], [0.3, 0.1, 0.2], [0.05, 0.05, 0.05]])
        plot.set_data(values, ["a", "b", "c"], ["maximize"] * 3, np.array([True, True, False]), [0, 0, 0])
        set_dark(qapp, True)
        qtbot.waitUntil(lambda: plot.backgroundBrush().color() == plot_colors()[0], timeout=2000)
        bg = plot_colors()[0]
        assert bg.lightness() < 100
        assert plot.getAxis("left").textPen().color() == plot_colors()[1]
        dominated = plot.lines[0].opts["pen"].color()  # drawn first
        assert dominated.alpha() >= 150
        assert dominated.lightness() - bg.lightness() >= 80  # stands out from the background
    finally:
        set_dark(qapp, False)
