"""Rounds panel (issue #15): on-policy rounds of generate -> label -> train -> evaluate, one button per step.

The table has one row per round: which steps are done, pairs, human / automatic labels and their agreement, the
labeller's chosen-rejected gap per objective, the trained run's final implicit-reward margin, and its reward vector
on the loop's fixed evaluation prompts with KL to the base and response length. The buttons run the current round's
next steps (workbench.services.rounds runs `workbench round PROJECT --step S`); the progress bar shows the step's
progress and ETA, Cancel stops it resumably. The first round needs loop settings (Loop settings…: a dialog that
saves `<project>.loop.json`, or loads a hand-written .toml, README "Rounds"); later rounds copy the previous round's
unless new settings are saved. "Label" adds the automatic labels; when
people owe labels it opens the Label panel on the round's pairs in active order (LabelPanel.label_round), and
Train becomes the next step once every pair is labelled. The reward vectors per round are drawn as a connected
path on the Trade-offs plot (widgets/rounds_path.py).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.core.eta import format_duration
from workbench.core.rounds import STEPS, next_step
from workbench.services.context import AppContext
from workbench.services.rounds import RoundProcess, RoundsData, load_rounds, loop_choices, round_command
from workbench.ui.errors import run_task, show_error
from workbench.ui.panels.deferred_reload import DeferredReload


_SUMMARY = re.compile(r"round \d+: ")  # a step's own summary line ("round 2: 6 pairs from 3 prompts")


def _cell(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def round_rows(data: RoundsData) -> tuple[list[str], list[list[str]]]:
    """Column headers and the text of every cell (tested without a window)."""
    objs = data.objectives
    head = (["Round", "Steps", "Pairs", "Human", "Auto", "Agree"] + [f"Gap {o}" for o in objs] + ["Margin"]
            + [f"Score {o}" for o in objs] + ["KL", "Length"])
    rows = []
    for st in data.stats:
        steps = " ".join(s if st.done.get(s) else "·" for s in STEPS)
        rows.append([str(st.number), steps, str(st.pairs), str(st.human_labels), str(st.auto_labels),
                     _cell(st.agreement, 2)] + [_cell(st.gap.get(o)) for o in objs] + [_cell(st.train_margin)]
                    + [_cell(st.values.get(f"{o}/score")) for o in objs]
                    + [_cell(st.values.get("kl")), _cell(st.values.get("length"), 1)])
    return head, rows


class RoundsPanel(DeferredReload, QWidget):
    """See the module docstring."""

    title = "Rounds"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.data = RoundsData([], [], [])
        self.config: Path | None = None
        self.running_step: str | None = None
        self.outcome = ""  # what the last step said (its summary or its error), shown above "Next: ..."
        self.outcome_at: tuple | None = None  # the rounds' state it was said in; None: the next reload's
        self.runner = RoundProcess(self)
        self.runner.line.connect(self._on_line)
        self.runner.finished.connect(self._on_finished)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.settings_button = QPushButton("Loop settings…")
        self.settings_button.setToolTip("How each round samples, labels and trains (prompts per round, samples, pair "
                                        "policy, labeller, the run's settings); needed for the first round.")
        self.settings_button.clicked.connect(self.choose_settings)
        self.buttons: dict[str, QPushButton] = {}
        for step in STEPS:
            button = QPushButton(step.capitalize())
            button.clicked.connect(lambda _=False, s=step: self.start_step(s))
            self.buttons[step] = button
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.settings_button)
        for button in self.buttons.values():
            top.addWidget(button)
        top.addWidget(self.cancel_button)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.table, 1)
        ctx.project_changed.connect(self.reload)
        ctx.data_changed.connect(lambda what: self._later_reload() if what in ("runs", "evaluations", "labels")
                                 else None)
        self.reload()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._later_reload()  # labels made in the Label panel since (it tells only when a round is complete)

    def shortcut_help(self) -> list[tuple[str, str]]:
        return [("Generate / Label / Train / Evaluate", "Run that step of the current round (resumes after a stop)")]

    # --- data -------------------------------------------------------------------------------------------------
    def reload(self) -> None:
        if self.ctx.project is None:
            self.set_data(RoundsData([], [], []))
            return
        run_task(self._reload(), self, "Could not load the rounds")

    async def _reload(self) -> None:
        self.set_data(await self.ctx.db.call(load_rounds))

    def set_data(self, data: RoundsData) -> None:
        self.data = data
        head, rows = round_rows(data)
        self.table.setColumnCount(len(head))
        self.table.setHorizontalHeaderLabels(head)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        state = self._state()
        if self.outcome_at is None:
            self.outcome_at = state
        elif state != self.outcome_at:  # labels made since (the Label panel) make "0 of 4 labelled" untrue
            self.outcome = ""
        self._enable()

    def _state(self) -> tuple:
        st = self.data.stats[-1] if self.data.stats else None
        return (len(self.data.stats), self.current_step(), st.labelled if st else 0)

    def current_step(self) -> str | None:
        """The next step of the last round (None: start a new round with Generate)."""
        return next_step(self.data.stats[-1].done) if self.data.stats else None

    def _enable(self) -> None:
        busy = self.runner.running
        has_project = self.ctx.project is not None
        step = self.current_step()
        can_start = has_project and (bool(self.data.stats) or self.config is not None)
        for name, button in self.buttons.items():
            button.setEnabled(not busy and can_start and (name == step or (step is None and name == "generate")))
        self.cancel_button.setEnabled(busy)
        self.settings_button.setEnabled(not busy and has_project)
        if not busy:
            hint = ("Choose loop settings to start the first round." if has_project and not can_start
                    else f"Next: {step or 'generate (a new round)'}{self._label_count(step)}")
            self.status.setText(f"{self.outcome}\n{hint}" if self.outcome else hint)

    def _label_count(self, step: str | None) -> str:
        st = self.data.stats[-1] if self.data.stats else None
        return f" — {st.labelled} of {st.pairs} pairs labelled" if st is not None and step == "label" else ""

    # --- actions ----------------------------------------------------------------------------------------------
    def choose_settings(self) -> None:
        """Open the Loop settings dialog (dialogs/loop_settings_dialog.py) on the loop's current settings."""
        if self.ctx.project_path is None:
            return
        run_task(self._open_settings(self.ctx.project_path), self, "Could not open the loop settings")

    async def _open_settings(self, project_path: Path) -> None:
        from workbench.core.loop_config import load_loop_config, loop_file
        from workbench.core.rounds import RoundSettings
        from workbench.core.run_config import RunConfig
        from workbench.services.tradeoffs import scorer_names
        from workbench.ui.dialogs.loop_settings_dialog import LoopSettingsDialog

        objectives, models, last = await self.ctx.db.call(loop_choices)
        scorers, _problem = await self.ctx.db.call_plain(scorer_names, project_path)
        saved = self.config or loop_file(project_path)
        if saved.is_file():
            run, settings = load_loop_config(saved)
        elif last is not None:  # the loop so far: the next round copies the last one's settings
            run, settings = RunConfig.from_dict(last[0]), RoundSettings.from_dict(last[1])
        else:  # the project's latest model; scorers label when every objective has one of its name
            run = RunConfig(name="round", model=models[-1] if models else "")
            labeller = "scorers" if objectives and all(o in scorers for o in objectives) else "human"
            settings = RoundSettings(labeller=labeller)
        dlg = LoopSettingsDialog(project_path, objectives, models, scorers, run, settings, self)
        dlg.accepted.connect(lambda: self.use_settings(dlg.saved))
        dlg.open()
        self.settings_dialog = dlg

    def use_settings(self, path: Path | None) -> None:
        """Start the next round with the loop file at `path` (what the dialog saved)."""
        if path is None:
            return
        self.config = Path(path)
        self.outcome, self.outcome_at = f"Loop settings: {self.config.name}", self._state()
        self._enable()

    def start_step(self, step: str) -> None:
        if self.ctx.project_path is None:
            return
        program, args = round_command(self.ctx.project_path, step, self.config if step == "generate" else None)
        try:
            self.runner.start(program, args)
        except RuntimeError as exc:
            show_error(self, "Round step", exc)
            return
        self.running_step = step
        self.progress.setValue(0)
        self.status.setText(f"{step}…")
        self._enable()

    def _show_label_panel(self, number: int) -> None:
        """People owe labels: the Label panel labels round `number`'s pairs only, in active order."""
        window = self.window()
        panel = getattr(window, "panel", lambda _name: None)("LabelPanel")
        tabs = getattr(window, "tabs", None)
        if panel is not None and tabs is not None:
            panel.label_round(number)
            tabs.setCurrentWidget(panel)

    async def _after_label(self) -> None:
        """After the Label step: open the round's queue in the Label panel while people owe labels."""
        await self._reload()
        st = self.data.stats[-1] if self.data.stats else None
        if st is not None and not st.done.get("label"):  # from the event loop: label_round runs tasks of its own
            QTimer.singleShot(0, lambda n=st.number: self._show_label_panel(n))

    def _on_line(self, text: str, fraction: object, eta: object) -> None:
        if isinstance(fraction, float):
            self.progress.setValue(int(1000 * fraction))
        left = f" — about {format_duration(eta)} left" if isinstance(eta, float) else ""
        self.status.setText(text[:200] + left)

    def _on_finished(self, code: int, tail: str) -> None:
        if code == 0:
            self.progress.setValue(1000)
            said = [line for line in tail.splitlines() if _SUMMARY.match(line)]  # not the --status table
            self.outcome, self.outcome_at = (said[-1] if said else ""), None
        else:
            lines = [line for line in tail.splitlines() if line.startswith("workbench:") or "error" in line.lower()]
            self.outcome, self.outcome_at = ((lines[-1] if lines else f"the step stopped (exit code {code})")
                                             + " — press the step again to resume it."), None
        step, self.running_step = self.running_step, None
        self.config = None if code == 0 else self.config
        for kind in ("pairs", "labels", "runs", "evaluations"):
            self.ctx.notify(kind)
        if code == 0 and step == "label":
            run_task(self._after_label(), self, "Could not load the rounds")
        else:
            self.reload()

    def shutdown(self) -> None:
        self.runner.cancel()
