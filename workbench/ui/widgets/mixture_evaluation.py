"""The Trade-offs panel's "Evaluate mixtures…": pick a finished MAH-DPO run (or soup), a checkpoint and a weight
grid (EvaluateMixturesDialog), start the evaluation worker through the RunSupervisor, and count its `eval` events on
a status line ("Evaluated 3/9 mixtures…"). A run whose model asks to run its own code asks first, every time, as
starting a run does (issue #12). `finished` fires when the worker ends (the panel reloads its points)."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from workbench.core.entities import Run
from workbench.core.remote_code import remote_code_request
from workbench.services.context import AppContext
from workbench.services.tradeoffs import (checkpoint_choices, load_objective_names, mixture_candidates,
                                          runs_with_checkpoints)
from workbench.ui.dialogs.evaluate_dialog import EvaluateMixturesDialog
from workbench.ui.dialogs.remote_code_dialog import ask_remote_code_async
from workbench.ui.errors import run_task, show_error


class MixtureEvaluation(QObject):
    """The button, the status line and the evaluation jobs they started (see the module docstring)."""

    finished = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget) -> None:
        super().__init__(parent)
        self.ctx, self.parent_widget = ctx, parent
        self.button = QPushButton("Evaluate mixtures…")
        self.button.setToolTip("Score a finished MAH-DPO run or soup on a grid of weight vectors.")
        self.button.clicked.connect(self.open_dialog)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.dialog: EvaluateMixturesDialog | None = None
        self._counts: dict[int, int] = {}
        self._totals: dict[int, int] = {}
        ctx.supervisor.event.connect(self._on_worker_event)
        ctx.supervisor.eval_finished.connect(self._on_finished)

    def open_dialog(self) -> None:
        if self.ctx.project is None:
            show_error(self.parent_widget, "Evaluate mixtures", "Open a project first (File ▸ Open Project).")
            return
        run_task(self._open_dialog(), self.parent_widget, "Could not list the runs to evaluate")

    async def _open_dialog(self) -> None:
        runs = await self.ctx.db.call(runs_with_checkpoints)
        candidates = [(dataclasses.replace(run, run_dir=str(self.ctx.supervisor.run_dir(run))), cks)
                      for run, cks in mixture_candidates(runs)]
        objectives = await self.ctx.db.call(load_objective_names)
        reward_models = checkpoint_choices(runs, self.ctx.supervisor.run_dir, "reward_model")
        dlg = EvaluateMixturesDialog(candidates, objectives, self.parent_widget, reward_models=reward_models)
        dlg.accepted.connect(lambda: self.start(*dlg.request(), reward_model=dlg.reward_model())
                             if dlg.request() else None)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dlg.open()
        self.dialog = dlg

    def start(self, run: Run, checkpoint: str, weights: list[dict[str, float]], *, reward_model: str = "") -> None:
        """Launch the evaluation worker for `weights` on `checkpoint` of `run` (`reward_model`: a vector reward
        model's checkpoint that also rates the generations); a model with its own code asks first."""
        if remote_code_request(run.config or {}) is not None:
            run_task(self._confirm_and_start(run, checkpoint, weights, reward_model), self.parent_widget,
                     "Could not start the evaluation")
            return
        self._start(run, checkpoint, weights, reward_model, False)

    async def _confirm_and_start(self, run: Run, checkpoint: str, weights: list[dict[str, float]],
                                 reward_model: str) -> None:
        consent = await ask_remote_code_async(self.parent_widget, run.config or {})
        if consent is None:
            self.status.setText(f"Evaluation of {run.name} cancelled: its model's own code was not allowed.")
            return
        self._start(run, checkpoint, weights, reward_model, consent)

    def _start(self, run: Run, checkpoint: str, weights: list[dict[str, float]], reward_model: str,
               remote_code_confirmed: bool) -> None:
        try:
            from workbench.store.run_prep import provide_scorers  # the store loads on first use, not at start-up

            provide_scorers(self.ctx.project_path, self.ctx.supervisor.run_dir(run))
            extra: dict = {"reward_model": reward_model} if reward_model else {}
            if remote_code_confirmed:
                extra["remote_code_confirmed"] = True
            self.ctx.supervisor.start_eval(run, checkpoint, weights, **extra)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self.parent_widget, "Could not start the evaluation", exc)
            return
        self._counts[run.id] = 0
        self._totals[run.id] = len(weights)
        self.status.setText(f"Evaluating {len(weights)} mixtures of {run.name}…")

    def _on_worker_event(self, run_id: int, msg) -> None:
        if msg.type != "eval" or self.ctx.supervisor.job_kind(run_id) != "eval" or msg.data.get("base"):
            return  # the base model's point is not one of the mixtures counted
        self._counts[run_id] = self._counts.get(run_id, 0) + 1
        self.status.setText(f"Evaluated {self._counts[run_id]}/{self._totals.get(run_id, 0)} mixtures…")

    def _on_finished(self, run_id: int, reason: str, error: str) -> None:
        done = self._counts.pop(run_id, 0)
        if reason == "finished":
            self.status.setText(f"Evaluated {done} mixtures.")
        else:
            self.status.setText(f"Evaluation {reason} after {done} mixtures.")
            if reason in ("failed", "crashed"):
                show_error(self.parent_widget, "The evaluation did not finish", error or f"the evaluation worker "
                           f"{reason}; see the run's log in the Runs panel")
        self.finished.emit()
