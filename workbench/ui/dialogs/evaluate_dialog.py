"""Evaluate mixtures: pick a finished MAH-DPO run (or a soup), one of its checkpoints and a grid size; the dialog
lists the weight vectors (workbench.core.weight_grid.weight_grid, the grid `workbench eval --grid` and sweeps use)
that the evaluation worker will score. The Trade-offs panel launches the worker through the RunSupervisor and
plots the points as their events arrive. Runs come with their run folder resolved (heads.json is read there).
Optionally a trained vector reward model (a finished `reward_model` run) also rates every mixture's generations:
its `<objective>/reward` values become the objectives' reward axes where no scorer is set (issue #17)."""

from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout,
                               QWidget)

from pathlib import Path

from workbench.core.weight_grid import weight_grid
from workbench.core.entities import Checkpoint, Run
from workbench.services.tradeoffs import mixture_objectives

MAX_MIXTURES = 200  # each mixture generates on every evaluation prompt: more is hours on a CPU
NO_REWARD_MODEL = "(none)"


class EvaluateMixturesDialog(QDialog):
    """`request()` -> (run, checkpoint path or "", weight vectors) once accepted."""

    def __init__(self, candidates: list[tuple[Run, list[Checkpoint]]], project_objectives: list[str],
                 parent: QWidget | None = None, *, reward_models: list[tuple[str, str]] = ()) -> None:
        super().__init__(parent)
        self.setWindowTitle("Evaluate mixtures")
        self.candidates = candidates
        self.project_objectives = list(project_objectives)
        self.run_combo = QComboBox()
        for run, _ in candidates:
            self.run_combo.addItem(f"{run.name} ({run.config.get('method')}, {run.status})", run.id)
        self.checkpoint_combo = QComboBox()
        self.points = QSpinBox()
        self.points.setRange(2, 21)
        self.points.setToolTip("Weights per objective axis: 0, 1/(n-1), …, 1 (every vector sums to 1).")
        self.reward_combo = QComboBox()
        self.reward_combo.addItem(NO_REWARD_MODEL, "")
        for label, path in reward_models:
            self.reward_combo.addItem(label, path)
        self.reward_combo.setToolTip("A trained vector reward model that also rates every generation, one reward "
                                     "per objective it was trained on (<objective> · reward on the plot)")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("Evaluate", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Run", self.run_combo)
        form.addRow("Checkpoint", self.checkpoint_combo)
        form.addRow("Points per axis", self.points)
        form.addRow("Reward model", self.reward_combo)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.summary)
        lay.addWidget(self.buttons)
        self.run_combo.currentIndexChanged.connect(self._on_run)
        self.points.valueChanged.connect(self._update)
        self.checkpoint_combo.currentIndexChanged.connect(self._update)
        self._on_run()

    def _selected(self) -> tuple[Run, list[Checkpoint]] | None:
        i = self.run_combo.currentIndex()
        return self.candidates[i] if 0 <= i < len(self.candidates) else None

    def _on_run(self, *_: object) -> None:
        chosen = self._selected()
        self.checkpoint_combo.clear()
        if chosen is None:
            self._update()
            return
        run, checkpoints = chosen
        for ck in reversed(checkpoints):  # the latest first: the run as it ended
            self.checkpoint_combo.addItem(f"step {ck.step}", ck.path)
        if not checkpoints:
            self.checkpoint_combo.addItem("(the soup's adapters)", "")
        self.points.setValue(int(run.config.get("sweep_points") or 5))
        self._update()

    def objectives(self) -> list[str]:
        chosen = self._selected()
        if chosen is None:
            return []
        checkpoint = str(self.checkpoint_combo.currentData() or "")
        folder = Path(chosen[0].run_dir) / checkpoint if checkpoint else None
        return mixture_objectives(chosen[0].config, self.project_objectives, folder)

    def weights(self) -> list[dict[str, float]]:
        objectives = self.objectives()
        return weight_grid(objectives, self.points.value()) if objectives else []

    def _update(self, *_: object) -> None:
        objectives, weights = self.objectives(), self.weights()
        problem = ""
        if self._selected() is None:
            problem = "No finished MAH-DPO run or soup yet: train one in the Runs panel first."
        elif len(objectives) < 2:
            problem = "This run mixes fewer than two objectives: there is nothing to trade off."
        elif len(weights) > MAX_MIXTURES:
            problem = f"{len(weights)} mixtures is too many (at most {MAX_MIXTURES}): lower the points per axis."
        shown = "; ".join("(" + ", ".join(f"{w[o]:.2f}" for o in objectives) + ")" for w in weights[:6])
        more = f" … and {len(weights) - 6} more" if len(weights) > 6 else ""
        self.summary.setText(problem or f"{len(weights)} mixtures of {', '.join(objectives)}: {shown}{more}")
        self.ok.setEnabled(not problem)

    def reward_model(self) -> str:
        """The chosen reward model's checkpoint folder, "" for none."""
        return str(self.reward_combo.currentData() or "")

    def request(self) -> tuple[Run, str, list[dict[str, float]]] | None:
        chosen = self._selected()
        if chosen is None:
            return None
        return chosen[0], str(self.checkpoint_combo.currentData() or ""), self.weights()
