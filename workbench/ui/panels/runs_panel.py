"""Runs panel: the runs table, New Run (with presets and a memory/time estimate), start/resume, stop, kill, clone,
live metric plots of the selected runs (overlaid) and the selected run's log.

Store calls run on the DB thread through `ctx.db` (functions below, imported lazily so SQLAlchemy is not loaded
before a project is opened). Live data comes from the RunSupervisor; the plots read its SeriesStores on their own
timer. A run that is not attached (an old run, or one from an earlier session) has its metrics loaded from the store
once, when it is first selected.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QPlainTextEdit, QSplitter, QTableView,
                               QTabWidget, QToolBar, QVBoxLayout, QWidget)

from workbench.core.bundled_models import smollm2_gguf
from workbench.core.entities import Run
from workbench.core.protocol import Message
from workbench.core.run_config import RunConfig
from workbench.services.context import AppContext
from workbench.services.label_session import ORDER_KEY
from workbench.services.tradeoffs import runs_with_checkpoints, scorer_names
from workbench.ui.dialogs.agreement_dialog import EPSILON_KEY, EPSILON_PROJECT_KEY
from workbench.ui.dialogs.new_run_dialog import NewRunDialog
from workbench.ui.dialogs.remote_code_dialog import ask_remote_code_async
from workbench.ui.errors import run_task, show_error
from workbench.ui.widgets.log_view import LogView, format_event, read_log_lines
from workbench.ui.widgets.metric_plots import MetricPlots
from workbench.ui.widgets.objective_sources import AdapterChoice
from workbench.ui.widgets.run_table import PROGRESS_COL, ProgressDelegate, RunTableModel

RESUMABLE = ("created", "stopped", "crashed", "failed")


# --- DB-thread functions -----------------------------------------------------------------------------------------
def load_overview(s) -> tuple[list[Run], list[str], list[str], tuple[int, int]]:
    """Runs, objective names, model locations and the numbers of pairs and step-rated solutions (the estimate)."""
    from workbench.store.models import list_models
    from workbench.store.objectives import list_objectives
    from workbench.store.pairs import count_pairs
    from workbench.store.runs import list_runs
    from workbench.store.step_labels import rated_responses

    return (list_runs(s), [o.name for o in list_objectives(s)], [m.location for m in list_models(s)],
            (int(count_pairs(s)), rated_responses(s)))


def load_checkpoints(s) -> list[tuple[Run, list]]:
    """Runs that saved checkpoints, with them (the adapters a soup or MODPO can reuse)."""
    return [(run, cks) for run, cks in runs_with_checkpoints(s) if cks]


def load_metrics(s, run_id: int) -> dict[str, tuple[list[int], list[float]]]:
    from workbench.store.runs import metric_keys, metric_series

    return {key: tuple(metric_series(s, run_id, key)) for key in metric_keys(s, run_id)}


def create_run(s, cfg: RunConfig, runs_root: Path) -> Run:
    from workbench.store.run_prep import prepare_run

    return prepare_run(s, cfg, runs_root)


def mark_running(s, run_id: int) -> None:
    from workbench.store.runs import set_run_status

    set_run_status(s, run_id, "running")


class RunsPanel(QWidget):
    """See the module docstring."""

    title = "Runs"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.sup = ctx.supervisor
        self.objectives: list[str] = []
        self.models: list[str] = []
        self.train_pairs = self.train_solutions = 0  # what the New Run dialog's estimate counts
        self.checkpoints: list[tuple[Run, list]] = []  # runs with their checkpoints (adapters for soups / MODPO)
        self.scorers: tuple[list[str], str] = ([], "")  # scorer names, problem with the project's scorers.py
        self.dialog: NewRunDialog | None = None
        self._loaded_history: set[int] = set()
        self._logs: dict[int, list[str]] = {}
        self.model = RunTableModel(self.sup.live, self, last_value_for=self._last_value)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setItemDelegateForColumn(PROGRESS_COL, ProgressDelegate(self.table))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(PROGRESS_COL, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_selection())
        self.plots = MetricPlots(self.sup.series, self)
        self.log_view = LogView()
        self.config_view = QPlainTextEdit()
        self.config_view.setReadOnly(True)
        self.hint = QLabel("Open a project to launch runs.")
        self.hint.setObjectName("hint")
        self._build(self._toolbar())
        self.sup.event.connect(self._on_event)
        self.sup.run_state_changed.connect(self._on_run_state)
        ctx.data_changed.connect(self._on_data_changed)
        ctx.project_changed.connect(self.reload)
        self._live_timer = QTimer(self)
        self._live_timer.setInterval(500)
        self._live_timer.timeout.connect(self.model.refresh_live)
        self._live_timer.start()
        self.reload()

    def _toolbar(self) -> QToolBar:
        bar = QToolBar()
        self.new_action = bar.addAction("New Run…", self.new_run)
        self.new_action.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.start_action = bar.addAction("Start / Resume", self.start_selected)
        self.start_action.setShortcut(QKeySequence("Ctrl+R"))
        self.stop_action = bar.addAction("Stop", self.stop_selected)
        self.stop_action.setShortcut(QKeySequence("Ctrl+."))
        self.kill_action = bar.addAction("Kill", self.kill_selected)
        self.clone_action = bar.addAction("Clone…", self.clone_selected)
        bar.addSeparator()
        bar.addAction("Refresh", self.reload).setShortcut(QKeySequence.StandardKey.Refresh)
        for act in bar.actions():
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(act)
        return bar

    def _build(self, bar: QToolBar) -> None:
        tabs = QTabWidget()
        tabs.addTab(self.plots, "Plots")
        tabs.addTab(self.log_view, "Log")
        tabs.addTab(self.config_view, "Settings")
        self.detail_tabs = tabs
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(tabs)
        split.setSizes([220, 560])
        layout = QVBoxLayout(self)
        layout.addWidget(bar)
        layout.addWidget(self.hint)
        layout.addWidget(split, 1)

    def _last_value(self, run_id: int, key: str) -> float | None:
        series = self.sup.series(run_id).get(key)
        last = series.last() if series is not None else None
        return last[1] if last else None

    def shortcut_help(self) -> list[tuple[str, str]]:
        return [("Ctrl+Shift+N", "New run"), ("Ctrl+R", "Start or resume the selected runs"),
                ("Ctrl+.", "Stop the selected runs (they save a checkpoint)"), ("F5", "Refresh the runs table")]

    # --- loading ----------------------------------------------------------------------------------------------
    def reload(self) -> None:
        has_project = self.ctx.project is not None
        self.hint.setVisible(not has_project)
        self.new_action.setEnabled(has_project)
        if not has_project:
            self.model.set_runs([])
            self.plots.set_runs([])
            return
        run_task(self._reload(), self, "Could not load runs")

    async def _reload(self) -> None:
        runs, self.objectives, self.models, (self.train_pairs, self.train_solutions) = await self.ctx.db.call(
            load_overview)
        selected = self.selected_ids()
        self.model.set_runs(runs)
        # Nothing chosen yet (a project just opened): show the first run's plots rather than an empty page.
        self.select_runs(selected or [r.id for r in runs[:1]])
        self._update_actions()
        # What the New Run dialog offers as soup ingredients, MODPO margins and evaluation scorers.
        self.checkpoints = await self.ctx.db.call(load_checkpoints)
        self.scorers = await self.ctx.db.call_plain(scorer_names, self.ctx.project_path)

    def _on_data_changed(self, what: str) -> None:
        if what in ("runs", "objectives", "models", "pairs"):
            self.reload()

    def selected_runs(self) -> list[Run]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.runs[r] for r in rows if r < len(self.model.runs)]

    def selected_ids(self) -> list[int]:
        return [r.id for r in self.selected_runs()]

    def select_runs(self, run_ids: list[int]) -> None:
        sel = self.table.selectionModel()
        sel.clearSelection()
        for rid in run_ids:
            row = self.model.row_of(rid)
            if row >= 0:
                sel.select(self.model.index(row, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)

    def _on_selection(self) -> None:
        runs = self.selected_runs()
        for run in runs:
            if self.ctx.project is not None and run.id not in self._loaded_history \
                    and not self.sup.is_running(run.id):
                self._loaded_history.add(run.id)
                run_task(self._load_history(run.id), self, "Could not load metrics")
        self.plots.set_runs([r.id for r in runs], {r.id: r.name for r in runs})
        self._show_log(runs[0] if runs else None)
        self.config_view.setPlainText(RunConfig.from_dict(runs[0].config).to_json() if runs and _valid(runs[0])
                                      else "")
        self._update_actions()

    async def _load_history(self, run_id: int) -> None:
        data = await self.ctx.db.call(load_metrics, run_id)
        store = self.sup.series(run_id)
        for key, (steps, values) in data.items():
            if key not in store:  # live points win over the stored ones
                store.series(key).append_many(steps, values)

    def _show_log(self, run: Run | None) -> None:
        self.log_run_id = run.id if run else None
        if run is None:
            self.log_view.set_lines([])
        elif run.id in self._logs:
            self.log_view.set_lines(self._logs[run.id])
        else:
            run_task(self._load_log(run), self, "Could not read the run's log")

    async def _load_log(self, run: Run) -> None:
        path = self.sup.run_dir(run) / "events.jsonl"
        lines = await self.ctx.db.call_plain(read_log_lines, path)
        if self.log_run_id == run.id and run.id not in self._logs:
            self.log_view.set_lines(lines)

    def _on_event(self, run_id: int, msg: Message) -> None:
        line = format_event(msg)
        if line is None:
            return
        self._logs.setdefault(run_id, []).append(line)
        if getattr(self, "log_run_id", None) == run_id:
            self.log_view.append_line(line)
        if msg.type in ("status", "ended"):
            self.model.refresh_live()

    # --- actions ----------------------------------------------------------------------------------------------
    def _on_run_state(self, run_id: int, status: str) -> None:
        self._update_actions()

    def _update_actions(self) -> None:
        runs = self.selected_runs()
        running = set(self.sup.running_ids())
        self.start_action.setEnabled(any(r.status in RESUMABLE and r.id not in running for r in runs))
        self.stop_action.setEnabled(any(r.id in running for r in runs))
        self.kill_action.setEnabled(any(r.id in running for r in runs))
        self.clone_action.setEnabled(len(runs) == 1 and _valid(runs[0]))

    def saved_epsilon(self) -> float | None:
        """The label-flip rate the agreement dialog saved for this project (None when there is none)."""
        value = self.ctx.settings.value(EPSILON_KEY, None)
        source = str(self.ctx.settings.value(EPSILON_PROJECT_KEY, "") or "")
        if value in (None, "") or (source and source != str(self.ctx.project_path or "")):
            return None
        try:
            eps = float(value)
        except (TypeError, ValueError):
            return None
        return eps if 0.0 <= eps < 0.5 else None

    def adapter_choices(self, with_checkpoints: list[tuple[Run, list]]) -> list[AdapterChoice]:
        """Every checkpoint of an earlier run, as an absolute adapter folder."""
        out = []
        for run, checkpoints in with_checkpoints:
            cfg = run.config or {}
            trained = tuple(cfg.get("objectives") or ())
            for ck in checkpoints:
                path = Path(ck.path)
                if not path.is_absolute():
                    path = self.sup.run_dir(run) / path
                out.append(AdapterChoice(f"{run.name} @ step {ck.step}", str(path), trained, run.id, ck.step))
        return out

    def new_run(self, initial: RunConfig | None = None) -> NewRunDialog | None:
        """Open the New Run dialog (a fresh config, or `initial` when cloning) once its choices are loaded."""
        if self.ctx.project is None:
            show_error(self, "New run", "Open or create a project first (File ▸ Open Project).")
            return None
        note = ""
        models = list(self.models)
        if not models and (gguf := smollm2_gguf()) is not None:
            models = [str(gguf)]  # a project without models yet: the SmolLM2 installed for offline use
        if initial is None:
            # the project's latest model (Models panel, oldest first): what someone who just added one wants
            initial = RunConfig(name=f"run-{len(self.model.runs) + 1}", model=models[-1] if models else "")
            if self.ctx.settings.value(ORDER_KEY, "random") != "active":
                # Scoring pairs for the "active" labelling order costs forward passes over every pair after
                # training (issue #13: 15 min on a 300-pair project): off unless that order is in use.
                initial = dataclasses.replace(initial, active_candidates=0)
            eps = self.saved_epsilon()
            if eps is not None:
                initial = dataclasses.replace(initial, label_smoothing=eps)
                note = (f"ε (label smoothing) = {eps:g}: the label-flip rate estimated from annotator agreement "
                        "(Label ▸ Agreement). The cdpo, robust, exo_pair and aot losses use it.")
        scorers, scorer_error = self.scorers
        if scorer_error:
            note = (note + "\n" if note else "") + f"Project scorers not loaded: {scorer_error}"
        dlg = NewRunDialog(self.objectives, models, train_pairs=self.train_pairs,
                           train_solutions=self.train_solutions, initial=initial,
                           adapters=self.adapter_choices(self.checkpoints), scorers=scorers, epsilon_note=note,
                           parent=self)
        dlg.accepted.connect(lambda: self.launch(dlg.config()))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dlg.open()
        self.dialog = dlg
        return dlg

    def launch(self, cfg: RunConfig) -> None:
        """Create the run folder and row for `cfg` and start its worker, after a warning when an objective has too
        few labelled pairs to train or evaluate (issue #13)."""
        run_task(self._check_and_launch(cfg), self, "Could not start the run")

    async def _check_and_launch(self, cfg: RunConfig) -> Run | None:
        from workbench.core.run_readiness import label_warnings

        counts = await self.ctx.db.call(label_counts, cfg)
        objectives = list(cfg.objectives) or list(counts)
        warnings = label_warnings(objectives, counts, cfg.batch_size,
                                  unit="step-labelled response" if cfg.kind == "prm" else "pair")
        if warnings and not await self.confirm_launch(warnings):
            return None
        return await self._launch(cfg)

    async def confirm_launch(self, warnings: list[str]) -> bool:
        """Ask whether to start anyway (tests replace this)."""
        import asyncio

        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.Warning, "Few labels",
                          "Some objectives have too few labelled pairs:\n\n• " + "\n• ".join(warnings) +
                          "\n\nStart the run anyway?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        answer: asyncio.Future = asyncio.get_running_loop().create_future()
        box.finished.connect(lambda code: answer.done() or answer.set_result(
            box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.open()
        self.launch_warning = box
        return await answer

    async def _launch(self, cfg: RunConfig) -> Run | None:
        consent = await ask_remote_code_async(self, cfg.to_dict())  # asked every time (issue #12)
        if consent is None:
            return None
        run = await self.ctx.db.call(create_run, cfg, self.ctx.runs_root)
        await self.ctx.db.call(mark_running, run.id)
        self._logs[run.id] = []
        self._loaded_history.add(run.id)
        self._start(run, consent)
        self.ctx.notify("runs")
        await self._reload()
        self.select_runs([run.id])
        return run

    def _start(self, run: Run, remote_code_confirmed: bool, *, resume: bool = False) -> None:
        kwargs = {"resume": True} if resume else {}
        if remote_code_confirmed:
            kwargs["remote_code_confirmed"] = True
        self.sup.start(run, **kwargs)

    def start_selected(self) -> None:
        running = set(self.sup.running_ids())
        for run in self.selected_runs():
            if run.status in RESUMABLE and run.id not in running:
                run_task(self._resume(run), self, "Could not resume the run")

    async def _resume(self, run: Run) -> None:
        consent = await ask_remote_code_async(self, run.config or {})
        if consent is None:
            return
        await self.ctx.db.call(mark_running, run.id)
        self._logs.setdefault(run.id, [])
        self._start(run, consent, resume=True)
        self.ctx.notify("runs")

    def stop_selected(self) -> None:
        for rid in self.selected_ids():
            self.sup.stop(rid)
            live = self.sup.live(rid)
            if live is not None and live.state == "stopping":  # the worker may take a whole step to answer
                self._on_event(rid, Message("log", str(rid), {"level": "info", "message": live.message},
                                            time=time.time()))

    def kill_selected(self) -> None:
        for rid in self.selected_ids():
            self.sup.kill(rid)

    def clone_selected(self) -> NewRunDialog | None:
        runs = self.selected_runs()
        if len(runs) != 1 or not _valid(runs[0]):
            return None
        cfg = RunConfig.from_dict(runs[0].config)
        return self.new_run(dataclasses.replace(cfg, name=f"{cfg.name}-copy"))

    def shutdown(self) -> None:
        self.plots.stop()
        self._live_timer.stop()


def label_counts(s, cfg: RunConfig) -> dict[str, tuple[int, int]]:
    """(training, held-out) pairs per objective of `cfg`, as its run folder would get them (DB thread)."""
    from workbench.store.run_readiness import split_counts

    return split_counts(s, cfg.objectives, eval_fraction=cfg.eval_fraction, seed=cfg.seed, kind=cfg.kind)


def _valid(run: Run) -> bool:
    try:
        RunConfig.from_dict(run.config)
        return True
    except (TypeError, ValueError):
        return False
