"""Project panel: the objectives (editable in place), what data the project holds, import and export.

Objectives: add, rename, describe and set the direction (maximise / minimise) directly in the table; every edit is
one store call on the DB thread. The summary shows pairs, prompts, labels per objective and a coverage bar (share of
pairs labelled for that objective). Import (button, File ▸ Import, or files dropped here) opens the ImportDialog and
runs the chunked import job with a progress bar; problems are listed with their line numbers. Export writes one
objective's majority preferences as TRL-style JSONL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QListWidget, QMessageBox, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.core.entities import Objective
from workbench.services.context import AppContext
from workbench.ui.dialogs.import_dialog import FileOutcome, ImportDialog, import_file
from workbench.ui.errors import run_task, show_error
from workbench.ui.panels.deferred_reload import DeferredReload
from workbench.ui.percent import percent_text
from workbench.ui.panels.project_steps import PAIRS_KIND, StepDataActions, step_format_names

DIRECTIONS = {"maximize": "maximise", "minimize": "minimise"}
DATASET_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")


def load_summary(s) -> tuple[list[Objective], Any]:
    from workbench.store.objectives import list_objectives
    from workbench.store.stats import project_stats

    return list_objectives(s), project_stats(s)


def add_objective(s, name: str) -> Objective:
    from workbench.store.objectives import add_objective as add

    return add(s, name)


def update_objective(s, objective_id: int, **changes: str) -> Objective:
    from workbench.store.objectives import update_objective as update

    return update(s, objective_id, **changes)


def objective_label_count(s, objective_id: int) -> int:
    from workbench.store.objectives import objective_label_count as count

    return count(s, objective_id)


def delete_objective(s, objective_id: int, *, move_labels_to: int | None = None) -> int:
    from workbench.store.objectives import delete_objective as delete

    return delete(s, objective_id, move_labels_to=move_labels_to)


def export_objective(s, objective: str, path: str) -> int:
    """Write the objective's preferences as JSONL (prompt/chosen/rejected); returns the number of records."""
    from workbench.store.exports import iter_preferences

    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for rec in iter_preferences(s, objective):
            fh.write(json.dumps({"prompt": rec.prompt, "chosen": rec.chosen, "rejected": rec.rejected,
                                 "objective": objective}, ensure_ascii=False) + "\n")
            n += 1
    return n


class ProjectPanel(StepDataActions, DeferredReload, QWidget):
    """See the module docstring."""

    title = "Project"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.objectives: list[Objective] = []
        self.stats: Any = None
        self.outcomes: list[FileOutcome] = []
        self._filling = False
        self.setAcceptDrops(True)
        self._build()
        ctx.project_changed.connect(self.reload)
        ctx.data_changed.connect(lambda what: self._later_reload() if what in ("objectives", "pairs", "labels") else None)
        self.reload()

    def _build(self) -> None:
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Objective", "Description", "Direction"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemChanged.connect(self._on_item_changed)
        self.add_button = QPushButton("Add objective…")
        self.add_button.clicked.connect(lambda: self.add_objective_dialog())
        self.delete_button = QPushButton("Delete objective…")
        self.delete_button.setToolTip("Delete the selected objective; you choose what happens to its labels")
        self.delete_button.clicked.connect(lambda: self.delete_objective_dialog())
        self.import_button = QPushButton("Import…")
        self.import_button.clicked.connect(lambda: self.start_import(None))
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.start_export)
        self.check_button = QPushButton("Check answers…")  # issue #17: the answer checker labels steps
        self.check_button.setToolTip("Label the steps of split responses whose prompt has a reference answer with "
                                     "the answer checker (annotator auto:checker, never counted as a person)")
        self.check_button.clicked.connect(self.start_answer_check)
        buttons = QHBoxLayout()
        for b in (self.add_button, self.delete_button, self.import_button, self.export_button, self.check_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        objectives = QGroupBox("Objectives")
        lay = QVBoxLayout(objectives)
        lay.addWidget(self.table)
        lay.addLayout(buttons)
        self.totals = QLabel("")
        self.coverage = QGridLayout()
        data = QGroupBox("Data")
        dlay = QVBoxLayout(data)
        dlay.addWidget(self.totals)
        dlay.addLayout(self.coverage)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.log = QListWidget()
        self.log.setMaximumHeight(150)
        self.hint = QLabel("Drop dataset files (.jsonl, .json, .csv, .parquet) here to import them.")
        self.hint.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.addWidget(objectives, 2)
        layout.addWidget(data, 1)
        layout.addWidget(self.hint)
        layout.addWidget(self.progress)
        layout.addWidget(self.log)

    def shortcut_help(self) -> list[tuple[str, str]]:
        return [("Ctrl+I", "Import a dataset"), ("Ctrl+E", "Export an objective's preferences")]

    # --- loading ----------------------------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._later_reload()  # labels made in the Label panel since: it does not notify per key

    def reload(self) -> None:
        has = self.ctx.project is not None
        for b in (self.add_button, self.delete_button, self.import_button, self.export_button):
            b.setEnabled(has)
        if not has:
            self.objectives, self.stats = [], None
            self._fill()
            return
        run_task(self._reload(), self, "Could not load the project summary")

    async def _reload(self) -> None:
        self.objectives, self.stats = await self.ctx.db.call(load_summary)
        self._fill()

    def _fill(self) -> None:
        self._filling = True
        self.table.setRowCount(len(self.objectives))
        for r, obj in enumerate(self.objectives):
            name = QTableWidgetItem(obj.name)
            name.setData(Qt.ItemDataRole.UserRole, obj.id)
            self.table.setItem(r, 0, name)
            self.table.setItem(r, 1, QTableWidgetItem(obj.description))
            combo = QComboBox()
            for key, text in DIRECTIONS.items():
                combo.addItem(text, key)
            combo.setCurrentIndex(combo.findData(obj.direction))
            combo.currentIndexChanged.connect(lambda _i, c=combo, oid=obj.id: self._edit(oid, direction=c.currentData()))
            self.table.setCellWidget(r, 2, combo)
        self.table.resizeColumnToContents(0)
        self._filling = False
        self._fill_stats()

    def _fill_stats(self) -> None:
        while self.coverage.count():
            w = self.coverage.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        st = self.stats
        if st is None:
            self.totals.setText("No project open." if self.ctx.project is None else "")
            return
        self.totals.setText(f"<b>{st.pairs:,}</b> pairs · <b>{st.prompts:,}</b> prompts · "
                            f"<b>{st.responses:,}</b> responses")
        for r, obj in enumerate(st.objectives):
            name, labels, labelled, coverage = obj.name, obj.labels, obj.labelled_pairs, obj.coverage
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(int(round(coverage * 1000)))
            bar.setFormat(f"{percent_text(coverage)} of pairs labelled")
            self.coverage.addWidget(QLabel(f"<b>{name}</b>"), r, 0)
            steps = (f" · {obj.step_labels:,} step rating{'s' if obj.step_labels != 1 else ''} on "
                     f"{obj.rated_responses:,} response{'s' if obj.rated_responses != 1 else ''}"
                     if obj.step_labels else "")
            self.coverage.addWidget(QLabel(f"{labels:,} labels on {labelled:,} pairs{steps}"), r, 1)
            self.coverage.addWidget(bar, r, 2)
        self.coverage.setColumnStretch(2, 1)

    # --- objectives -------------------------------------------------------------------------------------------
    def add_objective_dialog(self, name: str | None = None) -> None:
        if name is None:
            name, ok = QInputDialog.getText(self, "Add objective", "Name of the new objective:")
            if not ok:
                return
        name = name.strip()
        if not name:
            show_error(self, "Add objective", "An objective needs a name.")
            return
        run_task(self._add(name), self, "Could not add the objective")

    async def _add(self, name: str) -> None:
        await self.ctx.db.call(add_objective, name)
        self.ctx.notify("objectives")

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() not in (0, 1):
            return
        oid = self.table.item(item.row(), 0).data(Qt.ItemDataRole.UserRole)
        text = item.text().strip()
        if item.column() == 0:
            if not text:
                show_error(self, "Rename objective", "An objective needs a name; the old one was kept.")
                self.reload()
                return
            self._edit(oid, name=text)
        else:
            self._edit(oid, description=text)

    def _edit(self, objective_id: int, **changes: str) -> None:
        if not self._filling:
            run_task(self._update(objective_id, changes), self, "Could not change the objective")

    async def _update(self, objective_id: int, changes: dict[str, str]) -> None:
        try:
            await self.ctx.db.call(update_objective, objective_id, **changes)
        finally:
            self.ctx.notify("objectives")

    def delete_objective_dialog(self) -> QMessageBox | None:
        """Ask what happens to the selected objective's labels: deleted with it, or moved to another objective."""
        row = self.table.currentRow()
        if not 0 <= row < len(self.objectives):
            show_error(self, "Delete objective", "Select the objective to delete in the table first.")
            return None
        obj = self.objectives[row]
        n = self.ctx.db.call_sync(objective_label_count, obj.id)
        others = [o for o in self.objectives if o.id != obj.id]
        box = QMessageBox(QMessageBox.Icon.Question, "Delete objective",
                          f"Delete the objective {obj.name!r}? It has {n} active label{'s' if n != 1 else ''}.", parent=self)
        delete = box.addButton("Delete it and its labels", QMessageBox.ButtonRole.DestructiveRole)
        move = box.addButton("Move its labels to…", QMessageBox.ButtonRole.AcceptRole) if others else None
        box.addButton(QMessageBox.StandardButton.Cancel)

        def chosen(button) -> None:
            if button is delete:
                self.delete_objective(obj.id)
            elif move is not None and button is move:
                names = [o.name for o in others]
                name, ok = QInputDialog.getItem(self, "Move labels", f"Move the labels of {obj.name!r} to:", names,
                                                0, False)
                if ok:
                    self.delete_objective(obj.id, move_to=others[names.index(name)].id)

        box.buttonClicked.connect(chosen)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.open()
        return box

    def delete_objective(self, objective_id: int, move_to: int | None = None) -> None:
        run_task(self._delete(objective_id, move_to), self, "Could not delete the objective")

    async def _delete(self, objective_id: int, move_to: int | None) -> None:
        try:
            await self.ctx.db.call(delete_objective, objective_id, move_labels_to=move_to)
        finally:
            self.ctx.notify("objectives")
            self.ctx.notify("labels")

    # --- import / export --------------------------------------------------------------------------------------
    def start_import(self, paths: list[str] | None) -> ImportDialog | None:
        if self.ctx.project is None:
            show_error(self, "Import", "Open or create a project first (File ▸ Open Project or New Project).")
            return None
        dlg = ImportDialog(list(paths or []), [o.name for o in self.objectives], self)
        dlg.accepted.connect(lambda: self.run_import(dlg.choices()))
        dlg.open()
        if not paths:
            dlg.pick_files()
        return dlg

    def run_import(self, choices: list[tuple[str, str, str]]) -> None:
        run_task(self._import(choices), self, "Import failed")

    async def _import(self, choices: list[tuple[str, str, str]]) -> list[FileOutcome]:
        self.progress.show()
        self.import_button.setEnabled(False)
        outcomes = []
        try:
            for i, (path, fmt, objective) in enumerate(choices):
                def progress(frac: float, i: int = i) -> None:
                    self.progress.setValue(int(1000 * (i + frac) / len(choices)))
                outcome = await import_file(self.ctx.db, path, fmt, objective, progress)
                outcomes.append(outcome)
                self._report(outcome)
        finally:
            self.progress.hide()
            self.import_button.setEnabled(True)
            self.outcomes.extend(outcomes)
            self.ctx.notify("pairs")
            self.ctx.notify("objectives")
        return outcomes

    def _report(self, outcome: FileOutcome) -> None:
        self.log.addItem(outcome.summary())
        name = Path(outcome.path).name
        for err in outcome.errors:
            self.log.addItem(f"  ✗ {name}, {err}")
        if outcome.duplicates:
            lines = ", ".join(map(str, outcome.duplicates[:20])) + (" …" if len(outcome.duplicates) > 20 else "")
            self.log.addItem(f"  {name}: duplicates skipped on lines {lines}")
        self.log.scrollToBottom()

    def start_export(self) -> None:
        if not self.objectives:
            show_error(self, "Export", "There is nothing to export: the project has no objectives yet.")
            return
        names = [o.name for o in self.objectives]
        name, ok = QInputDialog.getItem(self, "Export", "Objective to export:", names, 0, False)
        if not ok:
            return
        kinds = [PAIRS_KIND, *(f"Step labels as {fmt}" for fmt in step_format_names())]  # issue #17
        kind, ok = QInputDialog.getItem(self, "Export", "What to export:", kinds, 0, False)
        if not ok:
            return
        fmt = kind.removeprefix("Step labels as ") if kind != PAIRS_KIND else ""
        path, _ = QFileDialog.getSaveFileName(self, "Export", f"{name}{'-' + fmt if fmt else ''}.jsonl",
                                              "JSON Lines (*.jsonl)")
        if path and fmt:
            self.export_steps_to(name, fmt, path)
        elif path:
            self.export_to(name, path)

    def export_to(self, objective: str, path: str) -> None:
        run_task(self._export(objective, path), self, "Export failed")

    async def _export(self, objective: str, path: str) -> int:
        n = await self.ctx.db.call(export_objective, objective, path)
        self.log.addItem(f"Exported {n:,} {objective} preferences to {path}")
        return n

    # --- drag and drop ----------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if _dropped_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = _dropped_paths(event)
        if paths:
            event.acceptProposedAction()
            self.start_import(paths)


def _dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[str]:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    return [u.toLocalFile() for u in urls if u.isLocalFile() and u.toLocalFile().lower().endswith(DATASET_SUFFIXES)]
