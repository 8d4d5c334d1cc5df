"""Live metric plots: one pyqtgraph plot per metric group, several runs overlaid, EMA smoothing with the raw curve
as a faint shadow (MLflow #2720's ask; TensorBoard's debiased EMA from workbench.core.series).

Redraws happen on a QTimer (REDRAW_MS), never once per message (DESIGN.md §3): each tick compares every series'
`version` with the one last drawn and calls setData only for series that changed. Curves use
`setDownsampling(auto=True, method="peak")` and `setClipToView(True)` with float64 x (pyqtgraph discussion #2710:
searchsorted on int x against a float bound is 10⁴× slower). A curve longer than ENVELOPE_ABOVE points that follows
the whole run is handed to pyqtgraph as its min/max envelope (`peak_envelope`, two numpy reductions per redraw):
pyqtgraph would otherwise re-check, bound and decimate every one of 10⁶ points on each paint. Zooming in by hand
switches that plot to every point (clip-to-view keeps it cheap), so the detail is still there.

Groups (SeriesStore.group_by_prefix): "rewards", "logps", "eval", one per objective prefix; keys without a prefix
("loss", "grad_norm", ...) get a plot each, since their scales have nothing in common.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QApplication, QGridLayout, QHBoxLayout, QLabel, QScrollArea, QSlider, QVBoxLayout,
                               QWidget)

from workbench.core.series import SeriesStore
from workbench.ui.theme import plot_colors, series_color

REDRAW_MS = 150
MIN_TICK_MS = 30
SPARE_DELAY_MS = REDRAW_MS // 2  # build a spare plot between two redraws, not right after one
SPARE_POOL = 4  # plots built ahead when runs are selected (the usual first groups: loss, rewards, logps, ...)
SHADOW_ALPHA = 60
ENVELOPE_ABOVE = 20_000  # points: a longer curve that follows the whole run is drawn as its min/max envelope
ENVELOPE_BINS = 4096
MIN_PLOT_WIDTH = 340  # px: the grid has as many columns as fit at this width (at least one), and scrolls beyond
POINT_SYMBOL_BELOW = 2  # a series with fewer points is drawn with markers (one point makes no line; issue #13)  # envelope resolution: 2 strokes per bin, several per pixel column at any window size
_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine)
_PALETTE_EVENTS = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)
_DASH_GLYPHS = ("——", "– –", "···", "–·–")  # how each of _STYLES reads in a title
# Order in which groups appear: training loss first, then the TRL reward/logp families, evaluation last.
_FIRST = ("loss", "rewards", "logps", "grad_norm", "learning_rate")


# Titles where a group's key prefix alone would mislead: a PRM's "steps/accuracy" is about reasoning steps, and the
# x axis of every plot is already the training step.
GROUP_TITLES = {"steps": "PRM steps (training batch)", "eval": "eval (held out)"}


def group_title(group: str) -> str:
    return GROUP_TITLES.get(group, group)


def group_of(key: str) -> str:
    prefix, sep, _ = key.partition("/")
    return prefix if sep else key


def _sort_key(group: str) -> tuple[int, str]:
    if group in _FIRST:
        return (_FIRST.index(group), group)
    return (len(_FIRST) + (1 if group == "eval" else 0), group)



class _Curve:
    """The raw (shadow) and smoothed curves of one series of one run."""

    def __init__(self, plot: pg.PlotItem, name: str | None, color: QColor, style: Qt.PenStyle) -> None:
        shadow = QColor(color)
        shadow.setAlpha(SHADOW_ALPHA)
        # Width-1 pens and no grid: in the raster engine a width-2 pen or grid lines cost 2-3x the paint time
        # (measured in tests/benchmarks/bench_plot.py), and the plots must repaint within one timer tick.
        # "peak" keeps each bin's min and max, so one bin per pixel column (autoDownsampleFactor 1 instead of
        # pyqtgraph's default 5) draws the same envelope with a fifth of the line segments.
        kw = dict(autoDownsampleFactor=1.0)
        self.raw = plot.plot([], [], pen=pg.mkPen(shadow, width=1, style=style), **kw)
        self.smooth = plot.plot([], [], pen=pg.mkPen(color, width=1, style=style), name=name, **kw)
        for item in (self.raw, self.smooth):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
        self.drawn: tuple[int, float] | None = None
        self.full: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # x, raw y, smoothed y (every point)


def _markers(item: pg.PlotDataItem, on: bool) -> None:
    """Markers in the curve's own colour for a series too short to make a line (a run's first eval point)."""
    if on == (item.opts.get("symbol") is not None):
        return
    if on:
        color = item.opts["pen"].color() if hasattr(item.opts["pen"], "color") else None
        item.setSymbol("o")
        item.setSymbolSize(7)
        item.setSymbolPen(color)
        item.setSymbolBrush(color)
    else:
        item.setSymbol(None)


def peak_envelope(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of each run of k = ceil(n / bins) consecutive points, drawn as a vertical stroke at the run's
    first x (pyqtgraph's "peak" downsampling, done once per redraw with two vectorised reductions instead of on
    every paint); the last n mod k points are kept as they are, so the newest steps are exact. Non-finite values
    are ignored (np.fmin/np.fmax) unless a whole run is non-finite, which stays a gap."""
    n = len(x)
    k = max(1, -(-n // bins))
    m = n // k
    body = y[: m * k].reshape(m, k)
    ex = np.concatenate([np.repeat(x[: m * k : k], 2), x[m * k :]])
    ey = np.concatenate([np.column_stack([np.fmin.reduce(body, axis=1), np.fmax.reduce(body, axis=1)]).ravel(),
                         y[m * k :]])
    return ex, ey


class MetricPlots(QWidget):
    """Plots of every metric of the selected runs; `set_runs` picks them, the timer keeps them current."""

    def __init__(self, series_for: Callable[[int], SeriesStore], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series_for = series_for
        self.run_ids: list[int] = []
        self.run_names: dict[int, str] = {}
        self.plots: dict[str, pg.PlotWidget] = {}
        self.curves: dict[tuple[int, str], _Curve] = {}
        self._spare: list[pg.PlotWidget] = []
        self._last_group = ""
        self.smoothing = 0.6
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 99)
        self.slider.setValue(int(self.smoothing * 100))
        self.slider.setToolTip("Exponential moving average weight (TensorBoard's smoothing): 0 shows raw values; "
                               "the raw curve stays visible as a faint shadow.")
        self.slider.valueChanged.connect(self._on_slider)
        self.slider_label = QLabel()
        self._on_slider(self.slider.value())
        self.empty_label = QLabel("Select one or more runs to plot their metrics.")
        self.empty_label.setObjectName("hint")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.slider_label)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.columns = 1
        scroll = self.scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_host)
        scroll.viewport().installEventFilter(self)  # its width decides how many plot columns fit
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.empty_label)
        layout.addWidget(scroll, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    # --- what to show -------------------------------------------------------------------------------------------
    def set_runs(self, run_ids: list[int], names: dict[int, str] | None = None) -> None:
        """Overlay these runs (in this order: it fixes their colours)."""
        if list(run_ids) == self.run_ids and (names or {}) == self.run_names:
            return
        self.run_ids = list(run_ids)
        self.run_names = dict(names or {})
        for plot in self.plots.values():
            plot.setParent(None)
            plot.deleteLater()
        self.plots.clear()
        self.curves.clear()
        self.empty_label.setVisible(not self.run_ids)
        self._ensure_spare(SPARE_POOL)
        self.redraw()

    def _on_slider(self, value: int) -> None:
        self.smoothing = value / 100.0
        self.slider_label.setText(f"{self.smoothing:.2f}")

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        """The palette changed (light/dark, following the system): plots take their colours when they are built,
        so the built ones and the spare pool are rebuilt."""
        super().changeEvent(event)
        if event.type() in _PALETTE_EVENTS and (self.plots or self._spare):
            for plot in self._spare:
                plot.setParent(None)
                plot.deleteLater()
            self._spare.clear()
            ids, names = self.run_ids, self.run_names
            self.run_ids = []
            self.set_runs(ids, names)

    # --- drawing ------------------------------------------------------------------------------------------------
    def _new_plot_widget(self) -> pg.PlotWidget:
        bg, fg = plot_colors()
        plot = pg.PlotWidget(self.grid_host, background=bg)
        plot.viewport().installEventFilter(self)  # the wheel scrolls the page (eventFilter)
        plot.hide()
        plot.setMinimumHeight(220)
        plot.setMinimumWidth(MIN_PLOT_WIDTH)
        plot.setLabel("bottom", "step")
        legend_bg = QColor(bg)
        legend_bg.setAlpha(210)  # readable over the curves it covers
        plot.addLegend(offset=(-10, 10), labelTextColor=fg, brush=legend_bg, verSpacing=-6)
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setTextPen(fg)
            plot.getAxis(axis).enableAutoSIPrefix(False)  # a loss of 0.002 reads better than "2 (x0.001)"
        plot.getAxis("left").setWidth(56)  # fixed: tick labels changing width would re-layout every tick
        plot.getViewBox().sigRangeChangedManually.connect(lambda *_, p=plot: self._on_manual_range(p))
        plot.getPlotItem().autoBtn.clicked.connect(lambda *_, p=plot: self._on_manual_range(p))
        return plot

    def _ensure_spare(self, count: int = 1) -> None:
        """Keep plot widgets built ahead: constructing a PlotWidget costs ~25 ms, too much to add to a tick while
        a run streams. `set_runs` (a click) fills the pool; afterwards one is rebuilt, in its own turn of the
        event loop, only when the pool is empty."""
        while len(self._spare) < count and self.run_ids:
            self._spare.append(self._new_plot_widget())

    def _plot(self, group: str) -> pg.PlotWidget:
        plot = self.plots.get(group)
        if plot is None:
            plot = self._spare.pop() if self._spare else self._new_plot_widget()
            plot.setObjectName(f"plot:{group}")
            plot.setTitle(group_title(group), color=plot_colors()[1])
            plot.show()
            self.plots[group] = plot
            self._relayout()
            if not self._spare:
                QTimer.singleShot(SPARE_DELAY_MS, self._ensure_spare)
        return plot

    def eventFilter(self, obj, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if (event.type() == QEvent.Type.Wheel and obj is not self.scroll.viewport()
                and not event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            # Over a plot the wheel scrolls the page of plots; Ctrl+wheel zooms that plot. pyqtgraph zooms on every
            # turn, so a page of plots could not be scrolled with the wheel (found under Xvfb).
            QApplication.sendEvent(self.scroll.verticalScrollBar(), event)
            return True
        if obj is self.scroll.viewport() and event.type() == QEvent.Type.Resize:
            columns = self._columns_for(self.scroll.viewport().width())
            if columns != self.columns:
                self.columns = columns
                self._relayout()
        return super().eventFilter(obj, event)

    def _columns_for(self, width: int) -> int:
        spacing = max(0, self.grid.horizontalSpacing())
        return max(1, (width + spacing) // (MIN_PLOT_WIDTH + spacing))

    def _relayout(self) -> None:
        """Place the plots row by row in `self.columns` columns (adapted to the width; never squeezed below
        MIN_PLOT_WIDTH: the area scrolls instead)."""
        plots = [self.plots[g] for g in sorted(self.plots, key=_sort_key)]
        for plot in plots:
            self.grid.removeWidget(plot)
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 0)
        for i, plot in enumerate(plots):
            self.grid.addWidget(plot, i // self.columns, i % self.columns)
        for c in range(min(self.columns, len(plots))):
            self.grid.setColumnStretch(c, 1)

    def _curve(self, run_index: int, run_id: int, key: str, keys_in_group: list[str]) -> _Curve:
        """One run's curve for `key`. One run: a colour per key. Several runs: a colour per run and a dash style
        per key, and the legend lists runs and keys once each (not runs × keys entries over the curves)."""
        found = self.curves.get((run_id, key))
        if found is None:
            k = keys_in_group.index(key)
            label = key.split("/", 1)[-1] if "/" in key else key
            plot = self._plot(group_of(key)).getPlotItem()
            if len(self.run_ids) == 1:
                found = _Curve(plot, label, series_color(k), _STYLES[0])
            else:
                color, style = series_color(run_index), _STYLES[k % len(_STYLES)]
                found = _Curve(plot, None, color, style)
                self._legend_entry(plot, str(self.run_names.get(run_id, run_id)), color, Qt.PenStyle.SolidLine)
                if len(keys_in_group) > 1:  # a one-key group is named by the plot's title already
                    self._title_keys(group_of(key), keys_in_group)
            self.curves[(run_id, key)] = found
        return found

    def _legend_entry(self, plot: pg.PlotItem, label: str, color: QColor, style: Qt.PenStyle) -> None:
        legend = plot.legend
        if legend is None or any(lab.text == label for _, lab in legend.items):
            return
        legend.addItem(pg.PlotDataItem([], [], pen=pg.mkPen(color, width=2, style=style)), label)

    def _title_keys(self, group: str, keys: list[str]) -> None:
        """Several runs: the legend names the runs (colours); the title names the keys by their dash pattern, so
        a legend of runs × keys never covers the latest steps."""
        parts = [f"{_DASH_GLYPHS[i % len(_DASH_GLYPHS)]} {k.split('/', 1)[-1]}" for i, k in enumerate(keys)]
        self.plots[group].setTitle(f"{group_title(group)}&nbsp;&nbsp;&nbsp;<small>{'&nbsp;&nbsp;'.join(parts)}</small>",
                                   color=plot_colors()[1])

    def _stale(self) -> list[tuple[int, int, str, list[str]]]:
        """(run index, run id, key, keys of its group) of every series whose curve is out of date."""
        out = []
        for run_index, run_id in enumerate(self.run_ids):
            store = self.series_for(run_id)
            groups: dict[str, list[str]] = {}
            for key in store.keys():
                groups.setdefault(group_of(key), []).append(key)
            for keys in groups.values():
                for key in keys:
                    curve = self.curves.get((run_id, key))
                    if curve is None or curve.drawn != (store.get(key).version, self.smoothing):
                        out.append((run_index, run_id, key, keys))
        return out

    def is_current(self) -> bool:
        """True when every curve shows its series' latest data (tests wait for this)."""
        return not self._stale()

    def redraw(self, only_group: str | None = None) -> int:
        """Push changed series to their curves (all groups, or one); returns how many curves were updated."""
        updated = 0
        touched: set[str] = set()
        created: str | None = None
        for run_index, run_id, key, keys in self._stale():
            group = group_of(key)
            if only_group is not None and group != only_group:
                continue
            if group not in self.plots and created is None:  # one new plot per call, its curves on the next
                self._plot(group)  # (building + laying out a plot and its first curves in one tick is too long)
                created = group
            if group not in self.plots or group == created:
                continue
            curve = self._curve(run_index, run_id, key, keys)
            series = self.series_for(run_id).get(key)
            curve.drawn = (series.version, self.smoothing)
            self._draw(curve, series)
            touched.add(group)
            updated += 1
        for group in touched:
            # Settle the auto-range now rather than in prepareForPaint, which would schedule a second paint.
            self.plots[group].getViewBox().updateAutoRange()
        return updated

    def _tick(self) -> None:
        """Timer slot: redraw ONE stale group per tick, round robin, ticking REDRAW_MS / groups apart.

        Every plot is then refreshed about every REDRAW_MS while the work per turn of the event loop stays at one
        plot's setData + repaint (~10 ms for 10⁴ points), however many plots a run has.
        """
        stale = sorted({group_of(key) for _, _, key, _ in self._stale()}, key=_sort_key)
        n_groups = max(1, len(self.plots))
        self.timer.setInterval(max(MIN_TICK_MS, REDRAW_MS // n_groups))
        if not stale:
            return
        order = sorted(self.plots, key=_sort_key)
        last = order.index(self._last_group) if self._last_group in order else -1
        after = [g for g in order[last + 1:] + order[: last + 1] if g in stale]
        new = [g for g in stale if g not in self.plots]
        group = after[0] if after else new[0]
        self._last_group = group
        self.redraw(only_group=group)

    def _draw(self, curve: _Curve, series) -> None:
        x = series.steps.astype(np.float64)
        y = np.array(series.values, dtype=np.float64)  # a copy: the series may thin its buffer in place later
        smooth = series.ema(self.smoothing) if self.smoothing > 0 else y
        curve.full = (x, y, smooth)
        vb = curve.smooth.getViewBox()
        if len(x) > ENVELOPE_ABOVE and (vb is None or vb.autoRangeEnabled()[0]):
            # Following the whole run: hand pyqtgraph each curve's min/max envelope (see peak_envelope), not 10⁶
            # points to re-check, bound and decimate on every paint. A manual zoom redraws with every point.
            x_raw, y = peak_envelope(x, y, ENVELOPE_BINS)
            x_smooth, smooth = peak_envelope(x, smooth, ENVELOPE_BINS) if self.smoothing > 0 else (x_raw, y)
        else:
            x_raw = x_smooth = x
        # pyqtgraph re-checks finiteness on every display pass unless told; one check here is cheaper (a NaN
        # loss does happen and must then be drawn as a gap).
        finite = bool(np.isfinite(y).all())
        _markers(curve.smooth, len(x) < POINT_SYMBOL_BELOW)
        if self.smoothing > 0:
            curve.raw.setData(x_raw, y, skipFiniteCheck=finite)
            curve.smooth.setData(x_smooth, smooth, skipFiniteCheck=finite)
        else:
            curve.raw.setData([], [])
            curve.smooth.setData(x_raw, y, skipFiniteCheck=finite)

    def _on_manual_range(self, plot: pg.PlotWidget) -> None:
        """The user zoomed or panned (or pressed the auto-range button): redraw that plot's curves, with every
        point while zoomed in, with the envelope again once it follows the run."""
        for curve in self.curves.values():
            if curve.smooth.getViewBox() is plot.getViewBox():
                curve.drawn = None

    def curve_data(self, run_id: int, key: str, *, raw: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The full arrays a curve draws (every point, whether pyqtgraph is handed them or their envelope): the
        raw values, or the smoothed ones."""
        curve = self.curves[(run_id, key)]
        if curve.full is None:
            return np.empty(0), np.empty(0)
        x, y, smooth = curve.full
        return (x, y) if raw or self.smoothing == 0 else (x, smooth)

    def stop(self) -> None:
        self.timer.stop()
