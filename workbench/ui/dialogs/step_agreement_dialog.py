"""Step agreement view (issue #17): how much annotators agree on step ratings, per objective.

As the pair agreement view (agreement_dialog.py), with a step of a response as the item: Cohen's κ of the two
annotators who share the most rated steps, Fleiss' κ over steps with the modal number of ratings, Krippendorff's α
(formulas and citations in workbench.core.agreement), over the ratings good / neutral / bad. A second row per
objective compares where annotators put the first error of a response (ProcessBench's label: the first bad step,
or none), from annotators who finished that response.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from workbench.core import agreement as ag
from workbench.core.entities import Objective
from workbench.core.step_labels import StepLabel, first_error_reliability, step_reliability
from workbench.services.step_label_queries import load_step_labels
from workbench.ui.dialogs.agreement_dialog import fmt
from workbench.ui.errors import run_task

COLUMNS = ["Objective", "Items", "Cohen κ", "Fleiss κ", "Krippendorff α", "Items rated", "Ratings"]


def agreement_rows(objectives: list[Objective], labels: list[StepLabel], steps_per_response: dict[int, int]
                   ) -> list[list[str]]:
    """Table rows: per objective, step ratings then first-error positions."""
    rows = []
    for obj in objectives:
        mine = [lab for lab in labels if lab.objective_id == obj.id]
        rated = [lab for lab in mine if lab.rating is not None]
        if not rated:
            continue
        steps = step_reliability(rated)
        rows.append([obj.name, "steps", *map(fmt, ag.agreement_coefficients(steps)), str(len(steps.units)),
                     str(len(rated))])
        first = first_error_reliability(mine, steps_per_response)
        n_first = sum(v is not None for row in first.rows for v in row)
        rows.append([obj.name, "first error", *map(fmt, ag.agreement_coefficients(first)), str(len(first.units)),
                     str(n_first)])
    return rows


class StepAgreementDialog(QDialog):
    """See the module docstring. Loads the step labels on the DB thread when opened."""

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Annotator agreement on steps")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.note = QLabel("Items: each step of a response (ratings +1 / 0 / −1), and each response's first error. "
                           "n/a: fewer than two annotators rated the same items.")
        self.note.setWordWrap(True)
        self.note.setObjectName("hint")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.resize(720, 360)
        if ctx.project is not None:
            run_task(self._load(), self, "Could not compute step agreement")

    async def _load(self) -> None:
        self.show_stats(*(await self.ctx.db.call(load_step_labels)))

    def show_stats(self, objectives: list[Objective], labels: list[StepLabel], steps: dict[int, int]) -> None:
        rows = agreement_rows(objectives, labels, steps)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        if not rows:
            self.note.setText("No step labels yet: label steps in the Label panel (Steps) or import them.")
