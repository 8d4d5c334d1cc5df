"""Trade-offs panel: evaluations of runs, checkpoints and mixtures over any two objectives, the non-dominated set
highlighted and joined by a line, its hypervolume, details of a clicked point, parallel coordinates for 3+ axes and
weight sliders that steer a loaded multi-objective model (DESIGN.md §6).

The math lives in workbench.core.pareto and workbench.services.tradeoffs (reference point documented there); this
module only draws. Data reloads when evaluations or runs change (ctx.data_changed).

"Evaluate mixtures…" scores a finished MAH-DPO run's (or a soup's) weight grid in an evaluation worker started
through the RunSupervisor; its `eval` events are ingested like a training run's and the points appear as they
arrive. "Steer this run" loads the clicked point's checkpoint (heads included) or soup in an inference worker for
the sliders; the point nearest to the slider weights is marked on the scatter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QTabWidget, QTextBrowser,
                               QVBoxLayout, QWidget)

from workbench.core.entities import Run
from workbench.services.context import AppContext
from workbench.services.inference_client import InferenceClient
from workbench.services.tradeoffs import (MIXTURE_METHODS, FrontView, Item, Table, build_table, front_view,
                                          load_scorers, reward_axes, runs_with_checkpoints, steering_spec)
from workbench.ui.dialogs.remote_code_dialog import ask_remote_code_async
from workbench.ui.errors import run_task, show_error
from workbench.ui.theme import plot_colors, series_color
from workbench.ui.widgets.parallel_coords import ParallelCoordinates
from workbench.ui.widgets.mixture_evaluation import MixtureEvaluation
from workbench.ui.widgets.point_details import details_html
from workbench.ui.widgets.rounds_path import RoundsPath
from workbench.ui.widgets.steering import SteeringBox

FRONT_COLOR = "#D55E00"
BASE_SYMBOL = "t"  # the untrained base model: a triangle, bigger than the other points


def load_tradeoffs(s) -> Table:
    """All evaluations grouped into items (DB thread)."""
    from workbench.store.hv_reference import get_reference
    from workbench.store.objectives import list_objectives
    from workbench.store.runs import list_checkpoints, list_evaluations, list_runs

    runs = {r.id: r for r in list_runs(s)}
    checkpoints = {c.id: c for rid in runs for c in list_checkpoints(s, rid)}
    directions = {o.name: o.direction for o in list_objectives(s)}
    return build_table(list_evaluations(s), directions, runs, checkpoints, get_reference(s))



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
        self._axes_picked = False  # set once the user picks an axis (activated: user action only)
        for combo in (self.x_combo, self.y_combo):
            combo.currentIndexChanged.connect(lambda _: self.redraw())
            combo.activated.connect(lambda _: setattr(self, "_axes_picked", True))
        self.hv_label = QLabel("Hypervolume: —")
        self.hv_label.setToolTip("Area dominated by the front, measured from the project's reference point (by "
                                 "default the untrained base model's reward vector); larger is better.")
        self.reference_button = QPushButton("Reference point…")
        self.reference_button.setToolTip("Show or set the hypervolume reference point of this project's objectives "
                                         "(the same one `workbench sweep --reference` sets).")
        self.reference_button.clicked.connect(self.edit_reference)
        self.empty_label = QLabel("No evaluations yet. Train a run (Runs ▸ New Run): it evaluates held-out pairs "
                                  "every 'eval every' steps and at its end, and each evaluation is a point here; "
                                  "Evaluate mixtures… scores a finished MAH-DPO run or soup on a grid of weights "
                                  "(on the command line: `workbench eval`, `workbench sweep`).")
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
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextColor=fg)
        self.details = QTextBrowser()
        self.details.setPlaceholderText("Click a point to see its run, settings, weights and sample generations.")
        self.steer_marker = pg.ScatterPlotItem(size=22, symbol="star", brush=None,
                                               pen=pg.mkPen(FRONT_COLOR, width=2))
        self.plot.addItem(self.steer_marker)
        self.rounds_path = RoundsPath(ctx, self.plot, lambda: (self.table, self.axes()))  # issue #15
        self.parallel = ParallelCoordinates()
        self.steering = SteeringBox(ctx, client_factory=lambda parent: InferenceClient(parent))
        self.steering.weights_changed.connect(lambda _w: self._mark_steered())
        self.steer_button = QPushButton("Steer this run")
        self.steer_button.setToolTip("Load the clicked point's checkpoint (with its objective heads) or soup in an "
                                     "inference worker and steer it with the sliders below.")
        self.steer_button.setEnabled(False)
        self.steer_button.clicked.connect(self.steer_selected)
        self.evaluation = MixtureEvaluation(ctx, self)
        self.evaluation.finished.connect(self.reload)
        self.eval_button, self.eval_status = self.evaluation.button, self.evaluation.status
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
        pickers.addWidget(self.reference_button)
        pickers.addStretch(0)
        pickers.addWidget(self.eval_status)
        pickers.addWidget(self.eval_button)
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
        top = QWidget()
        top_lay = QVBoxLayout(top)
        top_lay.setContentsMargins(0, 0, 0, 0)
        top_lay.addWidget(self.details, 1)
        top_lay.addWidget(self.steer_button)
        right.addWidget(top)
        right.addWidget(self.steering)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([760, 420])
        QVBoxLayout(self).addWidget(split)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        """Light/dark switched: the plots take the new palette's colours and redraw."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            bg, fg = plot_colors()
            for widget in (self.plot, self.parallel):
                widget.setBackground(bg)
                for axis in ("left", "bottom"):
                    widget.getAxis(axis).setTextPen(fg)
            self.parallel.fg = fg
            self.legend.setLabelTextColor(fg)
            self.set_table(self.table)

    def shortcut_help(self) -> list[tuple[str, str]]:
        return [("Click a point", "Show its run, settings, weights and samples"),
                ("Mouse wheel / drag", "Zoom / pan the scatter"), ("Enter (in the prompt)", "Generate")]

    # --- data -------------------------------------------------------------------------------------------------
    def reload(self) -> None:
        self.eval_button.setEnabled(self.ctx.project is not None)
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
        # The user's pick survives a reload; until they pick, the default follows the data (reward axes appear
        # once evaluations are ingested: the panel must not stay on the loss axes it opened on; issue #13).
        keep_x, keep_y = (self.x_combo.currentText(), self.y_combo.currentText()) if self._axes_picked else ("", "")
        for combo in (self.x_combo, self.y_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([f"{a} ({'↑' if table.directions[a] == 'maximize' else '↓'})" for a in table.axes])
            combo.blockSignals(False)
        labels = [self.x_combo.itemText(i) for i in range(self.x_combo.count())]
        rewards = [table.axes.index(a) for a in reward_axes(table)]  # by default: two objectives' rewards
        default_x, default_y = (rewards + [0, min(1, len(labels) - 1)])[:2] if len(rewards) < 2 else rewards[:2]
        self.x_combo.setCurrentIndex(labels.index(keep_x) if keep_x in labels else default_x)
        self.y_combo.setCurrentIndex(labels.index(keep_y) if keep_y in labels else default_y)
        runs = sorted({it.run_id for it in table.items if it.run_id is not None})
        self._group = {rid: i for i, rid in enumerate(runs)}
        self._fill_legend(runs, any(it.weights for it in table.items))
        self.empty_label.setVisible(not table.items)
        self.redraw()
        self._draw_parallel()
        self.steering.set_source(table, None, self.steering.scorers)

    def _fill_legend(self, runs: list[int], with_mixtures: bool) -> None:
        """A colour per run; squares are mixtures, circles checkpoints; the line is the front."""
        self.legend.clear()
        for rid in runs:
            color = series_color(self._group[rid])
            self.legend.addItem(pg.ScatterPlotItem(brush=color, pen=pg.mkPen(color.darker(130)), symbol="o"),
                                self.table.run_names.get(rid, f"run {rid}"))
        if with_mixtures:
            self.legend.addItem(pg.ScatterPlotItem(brush=None, pen=pg.mkPen(plot_colors()[1]), symbol="s"),
                                "mixture")
        if any(it.base for it in self.table.items):
            self.legend.addItem(pg.ScatterPlotItem(brush=None, pen=pg.mkPen(plot_colors()[1]), symbol=BASE_SYMBOL),
                                "base model (untrained)")
        if runs:
            self.legend.addItem(self.front_curve, "non-dominated")

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
        view = front_view(self.table.matrix(list(axes)), dirs, list(axes), self.table.reference)
        self.view = view
        finite = ~np.isnan(view.points).any(axis=1)
        spots = []
        for i in np.flatnonzero(finite):
            item = self.table.items[i]
            color = QColor(series_color(self._group.get(item.run_id, 0)))
            symbol = BASE_SYMBOL if item.base else "s" if item.weights else "o"
            spots.append({"pos": tuple(view.points[i]), "data": int(i), "brush": color,
                          "pen": pg.mkPen(color.darker(130)), "symbol": symbol, "size": 14 if item.base else 9})
        self.scatter.setData(spots)
        front = view.points[view.order]
        self.front_curve.setData(front[:, 0], front[:, 1])
        self.plot.setLabel("bottom", self.x_combo.currentText())
        self.plot.setLabel("left", self.y_combo.currentText())
        known = view.report.known
        self.hv_label.setText(f"Hypervolume: {view.hypervolume:.4g}" if known else "Hypervolume: — (no reference)")
        self.rounds_path.redraw()
        self.hv_label.setToolTip(f"{view.report.text[0].upper()}{view.report.text[1:]}. Area dominated by the front; "
                                 "the reference point is the project's (`workbench sweep` uses the same one), so "
                                 "fronts of different runs compare.")
        self._mark_steered()

    def _mark_steered(self) -> None:
        """A star on the evaluated mixture nearest to the steering sliders' weights."""
        found = self.steering.expected_vector()
        axes = self.axes()
        if found is None or axes is None:
            self.steer_marker.setData([])
            return
        values = found[0]
        if all(a in values for a in axes):
            self.steer_marker.setData([values[axes[0]]], [values[axes[1]]])
        else:
            self.steer_marker.setData([])

    def parallel_axes(self) -> list[str]:
        """Parallel coordinates: one axis per objective (its reward) plus the shared kl / length axes."""
        return reward_axes(self.table) + [a for a in self.table.axes if " · " not in a]

    def _draw_parallel(self) -> None:
        axes = self.parallel_axes()
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
        self.steer_button.setEnabled(False)
        if item.weights and self.steering.run_id == item.run_id:
            self.steering.set_weights(item.weights)
        if item.run_id is not None and self.ctx.project is not None:
            run_task(self._add_run_config(index, item, on_front), self, "Could not load the run's settings")

    async def _add_run_config(self, index: int, item: Item, on_front: bool) -> None:
        from workbench.store.runs import get_run

        run = await self.ctx.db.call(get_run, item.run_id)
        if run is not None and self._details_index == index:
            self.details.setHtml(details_html(item, self.table, on_front, dict(run.config)))
            self._clicked_run = run
            self.steer_button.setEnabled(dict(run.config).get("method") in MIXTURE_METHODS)

    # --- steering and evaluating mixtures ---------------------------------------------------------------------
    def steer_selected(self) -> None:
        """Load the clicked point's run (at the point's checkpoint, else its latest) for the steering sliders."""
        run = getattr(self, "_clicked_run", None)
        if run is None or not 0 <= self._details_index < len(self.table.items):
            return
        run_task(self._steer(run, self.table.items[self._details_index]), self, "Could not load the run to steer")

    async def _steer(self, run: Run, item: Item) -> None:
        runs = await self.ctx.db.call(runs_with_checkpoints)
        checkpoints = next((cks for r, cks in runs if r.id == run.id), [])
        chosen = next((c for c in checkpoints if c.id == item.checkpoint_id), checkpoints[-1] if checkpoints else None)
        path = ""
        if chosen is not None:
            p = Path(chosen.path)
            path = str(p if p.is_absolute() else self.ctx.supervisor.run_dir(run) / p)
        scorers = await self.ctx.db.call_plain(load_scorers, self.ctx.project_path,
                                               dict(run.config.get("eval_scorers") or {}))
        spec = steering_spec(run, path)
        consent = await ask_remote_code_async(self, spec)  # asked every time (issue #12)
        if consent is None:
            return
        self.steering.set_source(self.table, run.id, scorers)
        self.steering.load_run(run.id, {**spec, "remote_code_confirmed": True} if consent else spec, run.name)

    def evaluate_mixtures(self) -> None:
        self.evaluation.open_dialog()

    def start_evaluation(self, run: Run, checkpoint: str, weights: list[dict[str, float]], *,
                         reward_model: str = "") -> None:
        """Evaluate `weights` on `checkpoint` of `run` (widgets/mixture_evaluation.py)."""
        self.evaluation.start(run, checkpoint, weights, reward_model=reward_model)

    def edit_reference(self) -> None:
        """Show the reference point on the reward axes and let the user set any axis (stored in the project)."""
        from workbench.ui.dialogs.reference_dialog import ReferenceDialog

        axes = reward_axes(self.table)
        if self.ctx.project is None or not axes:
            show_error(self, "Reference point", "Evaluate a run first: the reference point is set per objective axis.")
            return
        dlg = ReferenceDialog(axes, self.table.reference, self)
        dlg.accepted.connect(lambda: run_task(self._save_reference(dlg.values()), self,
                                              "Could not save the reference point"))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dlg.open()
        self.reference_dialog = dlg

    async def _save_reference(self, values: dict[str, float | None]) -> None:
        from workbench.store.hv_reference import set_reference  # the store loads on first use

        await self.ctx.db.call(set_reference, values)
        await self._reload()

    def shutdown(self) -> None:
        self.steering.close_own()
