"""Run plots (issue #13 bug 8): the grid adapts its columns to the width and never squeezes a plot below
MIN_PLOT_WIDTH (the area scrolls instead); a series of one point is drawn with a marker."""

from __future__ import annotations

import numpy as np

from workbench.core.series import SeriesStore
from workbench.ui.widgets.metric_plots import MIN_PLOT_WIDTH, MetricPlots


def plots_with(qtbot, width: int) -> MetricPlots:
    store = SeriesStore()
    steps = np.arange(1, 51)
    for key in ("loss", "grad_norm", "learning_rate", "rewards/margins", "logps/chosen"):
        store.series(key).append_many(steps, np.linspace(1.0, 0.5, 50))
    store.series("eval/loss").append_many(np.array([50]), np.array([0.42]))  # one point: the first eval
    plots = MetricPlots(lambda rid: store)
    qtbot.addWidget(plots)
    plots.resize(width, 700)
    plots.show()
    plots.set_runs([1], {1: "r"})
    qtbot.waitUntil(lambda: len(plots.curves) == 6 and plots.is_current(), timeout=5000)  # drawn over a few ticks
    qtbot.wait(50)
    return plots


def columns_used(plots: MetricPlots) -> int:
    xs = {p.geometry().x() for p in plots.plots.values()}
    return len(xs)


def test_columns_follow_the_width_and_plots_keep_their_minimum(qtbot):
    narrow = plots_with(qtbot, 500)
    assert columns_used(narrow) == 1
    assert min(p.width() for p in narrow.plots.values()) >= MIN_PLOT_WIDTH
    wide = plots_with(qtbot, 1200)
    assert columns_used(wide) == 3
    assert min(p.width() for p in wide.plots.values()) >= MIN_PLOT_WIDTH
    wide.resize(760, 700)
    qtbot.waitUntil(lambda: columns_used(wide) == 2, timeout=2000)
    assert min(p.width() for p in wide.plots.values()) >= MIN_PLOT_WIDTH


def test_a_one_point_series_gets_a_marker(qtbot):
    plots = plots_with(qtbot, 900)
    one = plots.curves[(1, "eval/loss")].smooth
    many = plots.curves[(1, "loss")].smooth
    assert one.opts["symbol"] == "o" and len(one.getData()[0]) == 1
    assert many.opts["symbol"] is None


def test_the_wheel_scrolls_the_page_of_plots_and_ctrl_wheel_zooms(qtbot):
    """Found under Xvfb: turning the wheel over the plots zoomed each plot under the cursor instead of scrolling
    down to the others (pyqtgraph's default); now the page scrolls, and Ctrl+wheel zooms."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    plots = plots_with(qtbot, 500)  # one column: six plots, the page scrolls
    bar = plots.scroll.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0
    plot = plots.plots["loss"]
    before = plot.getViewBox().viewRange()

    def wheel(modifiers) -> None:
        at = QPointF(plot.viewport().width() / 2, plot.viewport().height() / 2)
        event = QWheelEvent(at, plot.viewport().mapToGlobal(at), QPoint(0, 0), QPoint(0, -120),
                            Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(plot.viewport(), event)

    wheel(Qt.KeyboardModifier.NoModifier)
    qtbot.wait(20)
    assert bar.value() > 0  # scrolled down
    assert plot.getViewBox().viewRange() == before  # the plot kept its range
    wheel(Qt.KeyboardModifier.ControlModifier)
    qtbot.wait(20)
    assert plot.getViewBox().viewRange() != before  # zoomed


def test_a_prms_step_metrics_are_titled_as_reasoning_steps(qtbot):
    """A plot titled "steps" beside x axes labelled "step" read as training steps (found under Xvfb)."""
    store = SeriesStore()
    for key in ("loss", "steps/accuracy", "steps/f1"):
        store.series(key).append_many(np.arange(1, 11), np.linspace(0.5, 0.9, 10))
    plots = MetricPlots(lambda rid: store)
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    plots.set_runs([1], {1: "prm"})
    qtbot.waitUntil(lambda: len(plots.curves) == 3 and plots.is_current(), timeout=5000)
    label = plots.plots["steps"].getPlotItem().titleLabel
    assert label.text.startswith("PRM steps (training batch)")
    assert plots.plots["loss"].getPlotItem().titleLabel.text == "loss"
