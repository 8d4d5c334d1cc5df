"""Pair browser (issue #13): find pairs by objective, label state, annotator, disagreement or text; open one to
read it and relabel it. The agreement dialog opens it on a disputed pair. Queries: workbench.store.pair_browser."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.services.label_session import Screen
from workbench.ui.errors import run_task, show_error
from workbench.ui.widgets.label_pair_view import PairView

STATE_TEXT = {"any": "Any state", "unlabelled": "Unlabelled", "labelled": "Labelled", "disputed": "Disputed"}


def load_choices(s):
    from workbench.store.annotators import import_annotator_ids, list_annotators
    from workbench.store.objectives import list_objectives

    machines = import_annotator_ids(s)
    return list_objectives(s), list_annotators(s), [a for a in list_annotators(s) if a.id not in machines]


def find_pairs(s, **filters):
    from workbench.store.pair_browser import browse_pairs

    return browse_pairs(s, **filters)


def load_pair(s, pair_id: int):
    from workbench.store.pairs import pair_view

    return pair_view(s, pair_id)


def relabel(s, pair_id: int, objective_id: int, annotator_id: int, choice: str):
    from workbench.store.labels import add_label

    return add_label(s, pair_id, objective_id, annotator_id, choice, shown_swapped=False)  # A is shown left


class PairBrowser(QDialog):
    """See the module docstring. `search` pre-fills the text filter (e.g. "#12" for one pair)."""

    def __init__(self, ctx, parent: QWidget | None = None, *, search: str = "", objective_id: int | None = None,
                 annotator_id: int | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Pairs")
        self._want_objective, self._want_annotator = objective_id, annotator_id
        self.objective = QComboBox()
        self.state = QComboBox()
        for key, text in STATE_TEXT.items():
            self.state.addItem(text, key)
        self.annotator = QComboBox()
        self.search = QLineEdit(search)
        self.search.setPlaceholderText("search prompt and responses, or #id")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Pair", "Prompt", "Labels", "Disputed"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setSectionResizeMode(1, self.table.horizontalHeader().ResizeMode.Stretch)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.cellActivated.connect(lambda row, _c: self.open_row(row))
        self.table.cellDoubleClicked.connect(lambda row, _c: self.open_row(row))
        self.view = PairView()
        self.label_as = QComboBox()  # who relabels
        self.label_for = QComboBox()  # which objective
        self.buttons = {choice: QPushButton(text) for choice, text in
                        (("a", "A better"), ("b", "B better"), ("tie", "Tie"))}
        for choice, button in self.buttons.items():
            button.clicked.connect(lambda _=False, c=choice: self.relabel(c))
        self.status = QLabel("")
        self.status.setObjectName("hint")
        filters = QHBoxLayout()
        for w in (self.objective, self.state, self.annotator):  # their whole text; the search box takes the rest
            w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            filters.addWidget(w)
        filters.addWidget(self.search, 1)
        relabel_row = QHBoxLayout()
        relabel_row.addWidget(QLabel("Relabel as"))
        relabel_row.addWidget(self.label_as)
        relabel_row.addWidget(QLabel("for"))
        relabel_row.addWidget(self.label_for)
        for b in self.buttons.values():
            relabel_row.addWidget(b)
        relabel_row.addStretch(1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.view, 1)
        rl.addLayout(relabel_row)
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(right)
        split.setSizes([480, 620])
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        self.resize(1150, 700)
        self.rows: list = []
        self.current_pair: int | None = None
        self._set_buttons()
        run_task(self._load_choices(), self, "Could not load the project")

    async def _load_choices(self) -> None:
        objectives, annotators, people = await self.ctx.db.call(load_choices)
        self.objective.addItem("All objectives", None)
        self.annotator.addItem("Any annotator", None)
        for o in objectives:
            self.objective.addItem(o.name, o.id)
            self.label_for.addItem(o.name, o.id)
        for a in annotators:
            self.annotator.addItem(a.name, a.id)
        for a in people:
            self.label_as.addItem(a.name, a.id)
        for combo, want in ((self.objective, self._want_objective), (self.label_for, self._want_objective),
                            (self.label_as, self._want_annotator)):
            if want is not None and combo.findData(want) >= 0:
                combo.setCurrentIndex(combo.findData(want))
        for w in (self.objective, self.state, self.annotator):
            w.currentIndexChanged.connect(lambda _: self.refresh())
        self.search.textChanged.connect(lambda _: self.refresh())
        await self._refresh()

    def refresh(self) -> None:
        run_task(self._refresh(), self, "Could not search the pairs")

    async def _refresh(self) -> None:
        filters = dict(objective_id=self.objective.currentData(), state=self.state.currentData(),
                       annotator_id=self.annotator.currentData(), search=self.search.text())
        rows = await self.ctx.db.call(find_pairs, **filters)
        if filters != dict(objective_id=self.objective.currentData(), state=self.state.currentData(),
                           annotator_id=self.annotator.currentData(), search=self.search.text()):
            return  # the filters changed meanwhile: a newer refresh is on its way
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(row.counts.items())) or "—"
            for c, text in enumerate([str(row.pair_id), row.prompt, counts, "yes" if row.disputed else ""]):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnToContents(0)
        self.status.setText(f"{len(rows)} pair{'s' if len(rows) != 1 else ''}" + (" (first 500)" if len(rows) >= 500
                                                                                  else ""))
        if len(rows) == 1 and self.current_pair != rows[0].pair_id:
            await self._open(rows[0].pair_id)

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            run_task(self._open(self.rows[row].pair_id), self, "Could not open the pair")

    async def _open(self, pair_id: int) -> None:
        view = await self.ctx.db.call(load_pair, pair_id)
        self.view.show_screen(Screen(view, False))
        self.current_pair = pair_id
        self._set_buttons()

    def _set_buttons(self) -> None:
        for b in self.buttons.values():
            b.setEnabled(self.current_pair is not None)

    def relabel(self, choice: str) -> None:
        if self.current_pair is None:
            return
        who, objective = self.label_as.currentData(), self.label_for.currentData()
        if who is None or objective is None:
            show_error(self, "Relabel", "Pick who you are and the objective (add an annotator in the Label panel).")
            return
        run_task(self._relabel(self.current_pair, objective, who, choice), self, "Could not store the label")

    async def _relabel(self, pair_id: int, objective_id: int, annotator_id: int, choice: str) -> None:
        await self.ctx.db.call(relabel, pair_id, objective_id, annotator_id, choice)
        self.status.setText(f"Pair {pair_id}: {self.label_as.currentText()} chose {choice} for "
                            f"{self.label_for.currentText()}.")
        self.ctx.notify("labels")
        await self._refresh()
