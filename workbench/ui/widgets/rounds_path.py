"""The rounds of an on-policy loop as a connected path on the Trade-offs scatter (issue #15): each round's final
checkpoint (evaluated as trained, on the loop's fixed prompts) at the plot's current axes, joined in round order
and labelled R1, R2, ... so the drift of the reward vector from round to round is visible at a glance.

It owns its plot items and loads the round -> run order itself on the DB thread, so the Trade-offs panel only
creates it and calls `redraw()` after drawing its own points.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt

from workbench.services.context import AppContext
from workbench.services.tradeoffs import Table
from workbench.ui.errors import run_task
from workbench.ui.theme import plot_colors



def round_points(table: Table, round_runs: list[tuple[int, int]], axes: tuple[str, str]
                 ) -> list[tuple[int, float, float]]:
    """(round number, x, y) of each round's run at `axes`: its latest checkpoint evaluated without mixture weights
    (items are in evaluation order, so the last match wins); rounds without such a point are left out."""
    out = []
    for number, run_id in round_runs:
        found = [it for it in table.items if it.run_id == run_id and it.checkpoint_id is not None
                 and not it.weights and all(a in it.values for a in axes)]
        if found:
            it = max(found, key=lambda item: item.checkpoint_id or 0)
            x, y = it.values[axes[0]], it.values[axes[1]]
            if np.isfinite(x) and np.isfinite(y):
                out.append((number, float(x), float(y)))
    return out


class RoundsPath(QObject):
    """See the module docstring. `source()` returns the panel's current (table, axes or None)."""

    def __init__(self, ctx: AppContext, plot: pg.PlotWidget, source: Callable[[], tuple[Table, tuple | None]]
                 ) -> None:
        super().__init__(plot)
        self.ctx, self.plot, self.source = ctx, plot, source
        self.round_runs: list[tuple[int, int]] = []
        # the foreground colour, dashed, under the points: apart from the run colours and the front's line
        self.curve = pg.PlotDataItem(pen=pg.mkPen(plot_colors()[1], width=1.5, style=Qt.PenStyle.DashLine))
        self.curve.setZValue(-1)
        plot.addItem(self.curve)
        self.labels: list[pg.TextItem] = []
        ctx.project_changed.connect(self.reload)
        ctx.data_changed.connect(lambda what: self.reload() if what in ("runs", "evaluations") else None)
        self.reload()

    def reload(self) -> None:
        if self.ctx.project is None:
            self.round_runs = []
            self.redraw()
            return
        run_task(self._reload(), self.plot, "Could not load the rounds")

    async def _reload(self) -> None:
        from workbench.services.rounds import load_rounds

        self.round_runs = (await self.ctx.db.call(load_rounds)).round_runs
        self.redraw()

    def redraw(self) -> None:
        table, axes = self.source()
        points = round_points(table, self.round_runs, axes) if axes else []
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        self.curve.setData([p[1] for p in points], [p[2] for p in points])
        for number, x, y in points:
            label = pg.TextItem(f"R{number}", color=plot_colors()[1], anchor=(0, 1))
            label.setPos(x, y)
            self.plot.addItem(label)
            self.labels.append(label)
        legend = self.plot.getPlotItem().legend  # the panel clears it on reload: look, don't remember
        if legend is not None:
            listed = "rounds" in [label.text for _sample, label in legend.items]
            if points and not listed:
                legend.addItem(self.curve, "rounds")
            elif not points and listed:
                legend.removeItem(self.curve)
