"""Agreement view: how much annotators agree, per objective, and what that says about label noise.

Per objective: Cohen's κ of the two annotators who share the most units, Fleiss' κ over units with the modal number
of ratings, Krippendorff's α (any coders, missing allowed) — formulas and citations in workbench.core.agreement.
Position-bias rate, the most disputed pairs, and the estimated flip rate ε, which a button stores for the New Run
dialog as the ε (label_smoothing) of the robust / cDPO losses.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.core import agreement as ag
from workbench.core.entities import Label, Objective
from workbench.ui.errors import run_task

EPSILON_KEY = "label_noise/epsilon"  # read by the New Run dialog as RunConfig.label_smoothing
EPSILON_PROJECT_KEY = "label_noise/project"  # the project the estimate came from
MARGINS_FILE = "pair_margins.json"  # {pair_id: margin} written by an evaluation of a run (optional)


def latest_margins(runs_root: Path | None) -> dict[int, float] | None:
    """Margins of the newest run folder that has a pair_margins.json (for the "active" queue order), else None."""
    if runs_root is None or not Path(runs_root).is_dir():
        return None
    files = sorted(Path(runs_root).glob(f"*/{MARGINS_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in files:
        try:
            return {int(k): float(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
        except (OSError, ValueError, AttributeError):
            continue
    return None


def load_labels(s) -> tuple[list[Objective], list[Label], set[int]]:
    """Objectives, active labels, and the ids of the annotators that stand for imports (their labels were never
    shown on a screen: no position bias to measure)."""
    from workbench.store.annotators import import_annotator_ids
    from workbench.store.labels import active_labels
    from workbench.store.objectives import list_objectives

    return list_objectives(s), active_labels(s), import_annotator_ids(s)


def objective_agreement(labels: list[Label]) -> tuple[float, float, float]:
    """(Cohen κ, Fleiss κ, Krippendorff α) for one objective's labels; NaN where undefined."""
    return ag.agreement_coefficients(ag.reliability_data(labels))


def fmt(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.{digits}f}"


class AgreementDialog(QDialog):
    """See the module docstring. Loads the labels on the DB thread when opened."""

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Annotator agreement")
        self.epsilon = math.nan
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Objective", "Cohen κ", "Fleiss κ", "Krippendorff α", "Labels"])
        self.table.verticalHeader().hide()
        self.bias = QLabel("")
        self.disputed = QTableWidget(0, 4)
        self.disputed.setHorizontalHeaderLabels(["Pair", "Objective", "Choices", "Entropy (bits)"])
        self.disputed.verticalHeader().hide()
        self.disputed.setToolTip("Double-click a pair to open it in the pair browser and relabel it")
        self.disputed.cellDoubleClicked.connect(lambda row, _c: self.open_disputed(row))
        self.disputed_rows: list = []
        for table in (self.table, self.disputed):
            table.horizontalHeader().setStretchLastSection(True)
        self.flip = QLabel("")
        self.model_vs_people = QLabel("")  # a vector reward model's suggestions vs the labels (issue #17)
        self.use_eps = QPushButton("Use as ε of the robust loss")
        self.use_eps.clicked.connect(self.use_epsilon)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        flip_row = QHBoxLayout()
        flip_row.addWidget(self.flip, 1)
        flip_row.addWidget(self.use_eps)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.bias)
        layout.addWidget(QLabel("Most disputed pairs"))
        layout.addWidget(self.disputed)
        layout.addLayout(flip_row)
        layout.addWidget(self.model_vs_people)
        layout.addWidget(buttons)
        self.resize(640, 560)
        if ctx.project is not None:
            run_task(self._load(), self, "Could not compute agreement")

    async def _load(self) -> None:
        objectives, labels, imported = await self.ctx.db.call(load_labels)
        self.show_stats(objectives, labels, imported)
        from workbench.ui.widgets.label_suggestion import model_agreement_text

        self.model_vs_people.setText(model_agreement_text(self.ctx.runs_root, objectives, labels, imported))

    def show_stats(self, objectives: list[Objective], labels: list[Label], imported: set[int] = frozenset()) -> None:
        names = {o.id: o.name for o in objectives}
        self.table.setRowCount(len(objectives))
        for r, obj in enumerate(objectives):
            mine = [lab for lab in labels if lab.objective_id == obj.id]
            values = objective_agreement(mine)
            for c, text in enumerate([obj.name, *map(fmt, values), str(len(mine))]):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        bias = ag.position_bias_rate(lab for lab in labels if lab.annotator_id not in imported)
        self.bias.setText("Position bias: no label made on screen yet (imported labels have no screen side)"
                          if not bias.decisive else
                          f"Position bias: {fmt(bias.rate, 2)} of {bias.decisive} decisive labels made on screen "
                          f"chose the left response (0.50 = none; binomial p = {fmt(bias.p_value, 3)})")
        disputed = ag.disputed_pairs(labels)[:50]
        self.disputed_rows = disputed
        self.disputed.setRowCount(len(disputed))
        for r, d in enumerate(disputed):
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(d.counts.items()))
            for c, text in enumerate([str(d.pair_id), names.get(d.objective_id, "?"), counts, fmt(d.entropy, 2)]):
                self.disputed.setItem(r, c, QTableWidgetItem(text))
        self.disputed.resizeColumnsToContents()
        flip = ag.estimated_flip_rate(labels)
        self.epsilon = flip.epsilon
        self.flip.setText("Estimated flip rate ε: needs pairs labelled by two or more annotators (Label ▸ overlap)"
                          if not flip.comparisons else
                          f"Estimated flip rate ε = {fmt(flip.epsilon)} (disagreement {fmt(flip.disagreement)} over "
                          f"{flip.comparisons} annotator pairs on {flip.units} pairs)")
        self.use_eps.setEnabled(not math.isnan(flip.epsilon) and flip.epsilon < 0.5)

    def open_disputed(self, row: int):
        """The disputed pair in the pair browser, on its objective (issue #13)."""
        from workbench.ui.dialogs.pair_browser import PairBrowser

        if not 0 <= row < len(self.disputed_rows):
            return None
        d = self.disputed_rows[row]
        dlg = PairBrowser(self.ctx, self, search=f"#{d.pair_id}", objective_id=d.objective_id)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dlg.open()
        self.browser = dlg
        return dlg

    def use_epsilon(self) -> None:
        settings: QSettings = self.ctx.settings
        settings.setValue(EPSILON_KEY, round(float(self.epsilon), 4))
        settings.setValue(EPSILON_PROJECT_KEY, str(self.ctx.project_path or ""))
        settings.sync()
        self.flip.setText(self.flip.text() + " — saved for new runs")
