"""Trade-offs panel: evaluations of runs, checkpoints and mixtures over any two objectives, the non-dominated set
highlighted and joined by a line, its hypervolume, details of a clicked point, parallel coordinates for 3+ axes and
weight sliders that steer a loaded multi-objective model (DESIGN.md §6).

The math lives in workbench.core.pareto and workbench.services.tradeoffs (reference point documented there); this
module only draws. Data reloads when evaluations or runs change (ctx.data_changed).
"""

from __future__ import annotations

import html
import json

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSplitter, QTabWidget, QTextBrowser, QVBoxLayout,
                               QWidget)

from workbench.services.context import AppContext
from workbench.services.tradeoffs import FrontView, Item, Table, build_table, front_view
from workbench.ui.errors import run_task
from workbench.ui.theme import plot_colors, series_color
from workbench.ui.widgets.parallel_coords import ParallelCoordinates
from workbench.ui.widgets.steering import SteeringBox

FRONT_COLOR = "#D55E00"


def load_tradeoffs(s) -> Table:
    """All evaluations grouped into items (DB thread)."""
    from workbench.store.objectives import list_objectives
    from workbench.store.runs import list_checkpoints, list_evaluations, list_runs

    runs = {r.id: r for r in list_runs(s)}
    checkpoints = {c.id: c for rid in runs for c in list_checkpoints(s, rid)}
    directions = {o.name: o.direction for o in list_objectives(s)}
    return build_table(list_evaluations(s), directions, runs, checkpoints)


class TradeoffsPanel(QWidget):
    """See the module docstring."""

    title = "Trade-offs"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.table = Table([], [], {})
        self.view: FrontView | None = None
        self._group: dict[int, int] = {}
        self._details_index = -1
        self.x_combo, self.y_combo = QComboBox(), QComboBox()
        for combo in (self.x_combo, self.y_combo):
            combo.currentIndexChanged.connect(lambda _: self.redraw())
        self.hv_label = QLabel("Hypervolume: —")
        self.hv_label.setToolTip("Area dominated by the front, measured from the per-axis worst value shown "
                                 "(larger is better; compares fronts within this view).")
        self.empty_label = QLabel("No evaluations yet: runs evaluate held-out pairs every 'eval every' steps; "
                                  "evaluate checkpoints or mixtures with `workbench eval` or a sweep.")
        self.empty_label.setObjectName("hint")
        self.empty_label.setWordWrap(True)
        bg, fg = plot_colors()
        self.plot = pg.PlotWidget(background=bg)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(fg)
            self.plot.getAxis(axis).enableAutoSIPrefix(False)  # accuracies stay 0.55, not "550 (x0.001)"
        self.scatter = pg.ScatterPlotItem(size=9, hoverable=True, tip=self._tip)
        self.scatter.sigClicked.connect(self._on_click)
        self.front_curve = pg.PlotDataItem(pen=pg.mkPen(FRONT_COLOR, width=2), symbol="o", symbolSize=13,
                                           symbolPen=pg.mkPen(FRONT_COLOR, width=2), symbolBrush=None)
        self.plot.addItem(self.front_curve)
        self.plot.addItem(self.scatter)
        self.details = QTextBrowser()
        self.details.setPlaceholderText("Click a point to see its run, settings, weights and sample generations.")
        self.parallel = ParallelCoordinates()
        self.steering = SteeringBox(ctx)
        self._build()
        ctx.data_changed.connect(self._on_data_changed)
        ctx.project_changed.connect(self.reload)
        self.reload()

    def _build(self) -> None:
        pickers = QHBoxLayout()
        pickers.addWidget(QLabel("X"))
        pickers.addWidget(self.x_combo, 1)
        pickers.addWidget(QLabel("Y"))
        pickers.addWidget(self.y_combo, 1)
        pickers.addWidget(self.hv_label)
        views = QTabWidget()
        views.addTab(self.plot, "Scatter")
        views.addTab(self.parallel, "Parallel coordinates")
        self.views = views
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(pickers)
        lay.addWidget(self.empty_label)
        lay.addWidget(views, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.details)
        right.addWidget(self.steering)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([760, 420])
        QVBoxLayout(self).addWidget(split)

    def shortcut_help(self) -> list[tuple[str, str]]:
        return [("Click a point", "Show its run, settings, weights and samples"),
                ("Mouse wheel / drag", "Zoom / pan the scatter"), ("Enter (in the prompt)", "Generate")]

    # --- data -------------------------------------------------------------------------------------------------
    def reload(self) -> None:
        if self.ctx.project is None:
            self.set_table(Table([], [], {}))
            return
        run_task(self._reload(), self, "Could not load evaluations")

    async def _reload(self) -> None:
        self.set_table(await self.ctx.db.call(load_tradeoffs))

    def _on_data_changed(self, what: str) -> None:
        if what in ("evaluations", "runs", "objectives"):
            self.reload()

    def set_table(self, table: Table) -> None:
        """Show `table`; the axis choices survive a reload when the axes still exist."""
        self.table = table
        keep_x, keep_y = self.x_combo.currentText(), self.y_combo.currentText()
        for combo in (self.x_combo, self.y_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([f"{a} ({'↑' if table.directions[a] == 'maximize' else '↓'})" for a in table.axes])
            combo.blockSignals(False)
        labels = [self.x_combo.itemText(i) for i in range(self.x_combo.count())]
        self.x_combo.setCurrentIndex(labels.index(keep_x) if keep_x in labels else 0)
        self.y_combo.setCurrentIndex(labels.index(keep_y) if keep_y in labels else min(1, len(labels) - 1))
        runs = sorted({it.run_id for it in table.items if it.run_id is not None})
        self._group = {rid: i for i, rid in enumerate(runs)}
        self.empty_label.setVisible(not table.items)
        self.redraw()
        self._draw_parallel()

    def axes(self) -> tuple[str, str] | None:
        if not self.table.axes:
            return None
        xi, yi = self.x_combo.currentIndex(), self.y_combo.currentIndex()
        if xi < 0 or yi < 0:
            return None
        return self.table.axes[xi], self.table.axes[yi]

    # --- drawing ----------------------------------------------------------------------------------------------
    def redraw(self) -> None:
        axes = self.axes()
        if axes is None or not self.table.items:
            self.scatter.setData([])
            self.front_curve.setData([], [])
            self.hv_label.setText("Hypervolume: —")
            self.view = None
            return
        dirs = [self.table.directions[a] for a in axes]
        view = front_view(self.table.matrix(list(axes)), dirs)
        self.view = view
        finite = ~np.isnan(view.points).any(axis=1)
        spots = []
        for i in np.flatnonzero(finite):
            item = self.table.items[i]
            color = QColor(series_color(self._group.get(item.run_id, 0)))
            spots.append({"pos": tuple(view.points[i]), "data": int(i), "brush": color,
                          "pen": pg.mkPen(color.darker(130)), "symbol": "s" if item.weights else "o"})
        self.scatter.setData(spots)
        front = view.points[view.order]
        self.front_curve.setData(front[:, 0], front[:, 1])
        self.plot.setLabel("bottom", self.x_combo.currentText())
        self.plot.setLabel("left", self.y_combo.currentText())
        self.hv_label.setText(f"Hypervolume: {view.hypervolume:.4g}")

    def _draw_parallel(self) -> None:
        axes = self.table.axes
        self.views.setTabEnabled(1, len(axes) >= 3)
        if len(axes) < 3 or not self.table.items:
            self.parallel.set_data(np.zeros((0, len(axes))), axes, [], np.zeros(0, bool), [])
            return
        from workbench.core.pareto import non_dominated

        values = self.table.matrix(axes)
        dirs = [self.table.directions[a] for a in axes]
        groups = [self._group.get(it.run_id, 0) for it in self.table.items]
        self.parallel.set_data(values, axes, dirs, non_dominated(values, dirs), groups)

    def _tip(self, x: float, y: float, data: int) -> str:
        return self.table.items[int(data)].label

    def _on_click(self, _item, points, *args) -> None:
        if len(points):
            self.show_details(int(points[0].data()))

    # --- details ----------------------------------------------------------------------------------------------
    def show_details(self, index: int) -> None:
        """Show the point at once; its run's settings are fetched on the DB thread and added when they arrive."""
        item = self.table.items[index]
        on_front = bool(self.view is not None and self.view.mask[index])
        self.details.setHtml(details_html(item, self.table, on_front, {}))
        self._details_index = index
        if item.run_id is not None and self.ctx.project is not None:
            run_task(self._add_run_config(index, item, on_front), self, "Could not load the run's settings")

    async def _add_run_config(self, index: int, item: Item, on_front: bool) -> None:
        from workbench.store.runs import get_run

        run = await self.ctx.db.call(get_run, item.run_id)
        if run is not None and self._details_index == index:
            self.details.setHtml(details_html(item, self.table, on_front, dict(run.config)))


SETTINGS_SHOWN = ("method", "model", "losses", "beta", "learning_rate", "lora_r", "max_steps", "epochs", "objectives",
                  "weights")


def details_html(item: Item, table: Table, on_front: bool, config: dict) -> str:
    """The details pane of one point: values, weights, run settings and sample generations (if stored)."""
    esc = html.escape
    parts = [f"<h3>{esc(item.label)}</h3>", "<p><b>On the front</b></p>" if on_front else ""]
    rows = "".join(f"<tr><td>{esc(a)}</td><td>&nbsp;<b>{item.values[a]:.4g}</b></td></tr>"
                   for a in table.axes if a in item.values)
    parts.append(f"<table>{rows}</table>")
    if item.weights:
        mix = ", ".join(f"{esc(k)}: {v:.2f}" for k, v in sorted(item.weights.items()))
        parts.append(f"<p><b>Mixture weights</b>: {mix}</p>")
    if config:
        conf = "".join(f"<tr><td>{esc(k)}</td><td>&nbsp;{esc(json.dumps(config[k]))}</td></tr>"
                       for k in SETTINGS_SHOWN if k in config)
        parts.append(f"<p><b>Run settings</b></p><table>{conf}</table>")
    samples = item.produced_by.get("samples") or item.produced_by.get("generations") or []
    if samples:
        parts.append("<p><b>Sample generations</b></p>")
        for s in samples[:5]:
            if isinstance(s, dict):
                prompt, text = s.get("prompt", ""), s.get("text") or s.get("response") or s.get("completion", "")
                parts.append(f"<p><i>{esc(str(prompt))}</i><br>{esc(str(text))}</p>")
            else:
                parts.append(f"<p>{esc(str(s))}</p>")
    extra = {k: v for k, v in item.produced_by.items() if k not in ("samples", "generations")}
    if extra:
        parts.append(f"<p><b>Evaluated by</b>: {esc(json.dumps(extra)[:400])}</p>")
    return "".join(parts)
