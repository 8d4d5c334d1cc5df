"""The runs table: stored runs (workbench.store.runs.list_runs) merged with the live state of attached workers
(RunSupervisor.live): name, method, state, step/total, a progress bar, ETA and the latest loss."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar

from workbench.core.entities import Run
from workbench.core.eta import format_duration
from workbench.core.run_config import method_text
from workbench.ui.percent import percent_text
from workbench.services.run_supervisor import LiveInfo

COLUMNS = ("Name", "Method", "State", "Step", "Progress", "ETA", "Loss")
PROGRESS_COL = COLUMNS.index("Progress")
ProgressRole = Qt.ItemDataRole.UserRole + 1

Index = QModelIndex | QPersistentModelIndex


class RunTableModel(QAbstractTableModel):
    """Rows are Run entities; live values come from `live_for(run_id)` each time a cell is drawn."""

    def __init__(self, live_for, parent=None, *, last_value_for=None) -> None:
        super().__init__(parent)
        self.live_for = live_for
        # (run id, metric) -> latest value or None: the Loss column of runs that are not attached
        self.last_value_for = last_value_for or (lambda run_id, key: None)
        self.runs: list[Run] = []

    def set_runs(self, runs: list[Run]) -> None:
        self.beginResetModel()
        self.runs = list(runs)
        self.endResetModel()

    def refresh_live(self) -> None:
        """Repaint the live columns (state to loss) without resetting the selection."""
        if self.runs:
            self.dataChanged.emit(self.index(0, 2), self.index(len(self.runs) - 1, len(COLUMNS) - 1))

    def row_of(self, run_id: int) -> int:
        return next((i for i, r in enumerate(self.runs) if r.id == run_id), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def values(self, run: Run) -> dict[str, Any]:
        """Everything a row shows, as plain values (tests read this)."""
        live: LiveInfo | None = self.live_for(run.id)
        cfg = run.config or {}
        step = max(run.last_step, live.step if live else 0)
        total = (live.total_steps if live and live.total_steps else 0) or int(cfg.get("max_steps") or 0)
        # A worker attached in this session knows its phase (loading, training, ...) before the store does.
        state = (live.state if live.state != "starting" else "running") if live else run.status
        if state == "finished" and not total:
            total = step
        progress = min(1.0, step / total) if total else None
        eta = live.eta_s if live and state not in ("finished", "stopped", "failed", "crashed") else None
        if live and live.phase_progress is not None and state not in ("finished", "stopped", "failed", "crashed"):
            # a phase before or after the steps (reference pass, scoring pairs...): its own progress and ETA
            state, progress = (f"{state}: {live.message}" if live.message else state), live.phase_progress
        return {"Name": run.name, "Method": method_text(cfg), "State": state,
                "Step": f"{step}/{total}" if total else str(step), "Progress": progress,
                "ETA": format_duration(eta) if eta is not None else "",
                "Loss": live.loss if live and live.loss is not None else self.last_value_for(run.id, "loss"),
                "Error": (live.error if live and live.error else run.error)}

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run = self.runs[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = self.values(run)[column]
            if column == "Progress":
                return percent_text(value) if value is not None else ""
            if column == "Loss":
                return f"{value:.4f}" if value is not None else ""
            return value
        if role == ProgressRole and column == "Progress":
            return self.values(run)["Progress"]
        if role == Qt.ItemDataRole.ToolTipRole:
            values = self.values(run)
            return values["Error"] or f"{run.name}: {values['State']} ({run.run_dir})"
        if role == Qt.ItemDataRole.UserRole:
            return run.id
        return None


class ProgressDelegate(QStyledItemDelegate):
    """Draws the Progress column as a progress bar."""

    def paint(self, painter, option, index) -> None:  # noqa: D401 - Qt override
        value = index.data(ProgressRole)
        if value is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(value * 1000)
        bar.text = percent_text(value)
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.palette = option.palette
        bar.fontMetrics = option.fontMetrics
        # Qt 6 has no orientation field: a horizontal bar needs State_Horizontal or it is drawn as a vertical one.
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
