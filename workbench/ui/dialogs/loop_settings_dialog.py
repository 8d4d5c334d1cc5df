"""Loop settings for on-policy rounds (the Rounds panel's "Loop settings…"), without writing a file by hand.

The [round] settings are a form (prompts per round, samples, sampling, pair policy, labeller, one label scorer per
objective, evaluation prompts, seed); the [run] settings are the New Run dialog's (Run settings…), starting from the
loop's last settings, else the project's latest model on every objective. "Load file…" reads a loop .toml / .json
as `workbench round --config` does, and Save writes `<project>.loop.json` next to the project (core.loop_config:
one reader, one writer); the Rounds panel starts the first round with it.
Problems (RunConfig.problems + RoundSettings.problems, the rules `workbench round` applies) are listed, and Save is
off while there are any.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from workbench.core.errors import WorkbenchError
from workbench.core.loop_config import load_loop_config, loop_file, write_loop_config
from workbench.core.rounds import LABELLERS, POLICIES, RoundSettings
from workbench.core.run_config import RunConfig

POLICY_TEXT = {"best_worst": "best vs worst of the samples", "margin": "best vs worst, if the gap ≥ margin",
               "anchored": "best vs the base model's worst (anchored)",
               "latest_chosen": "best vs the parent model's worst (latest chosen)"}
LABELLER_TEXT = {"scorers": "scorers (automatic)", "human": "people (the Label panel)",
                 "mix": "mix: scorers when confident, else people"}


def _spin(low: int, high: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    return box


def _double(low: float, high: float, step: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(2)
    return box


class LoopSettingsDialog(QDialog):
    """See the module docstring. `run` and `settings()` are the loop; `saved` the file written on Save."""

    def __init__(self, project_path: Path, objectives: list[str], models: list[str], scorers: list[str],
                 run: RunConfig, settings: RoundSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Loop settings")
        self.project_path, self.objectives, self.models, self.scorers = project_path, objectives, models, scorers
        self.run = run
        self.saved: Path | None = None
        self.run_summary = QLabel()
        self.run_summary.setWordWrap(True)
        self.run_button = QPushButton("Run settings…")
        self.run_button.setToolTip("Model, method, objectives and training settings of every round's run (the New "
                                   "Run dialog)")
        self.run_button.clicked.connect(self.edit_run)
        self.prompts = _spin(1, 10_000)
        self.samples = _spin(2, 64)
        self.temperature = _double(0.05, 2.0, 0.05)
        self.top_p = _double(0.05, 1.0, 0.05)
        self.max_new = _spin(1, 4096)
        self.policy = QComboBox()
        for key in POLICIES:
            self.policy.addItem(POLICY_TEXT.get(key, key), key)
        self.margin = _double(0.0, 1e6, 0.5)
        self.labeller = QComboBox()
        for key in LABELLERS:
            self.labeller.addItem(LABELLER_TEXT.get(key, key), key)
        self.mix_confidence = _double(0.0, 1e6, 0.5)
        self.mix_confidence.setToolTip("Mix rounds: the scorers label a pair for an objective when their score gap "
                                       "is at least this; people label the rest")
        self.label_scorers: dict[str, QComboBox] = {}
        self.label_reward_model = QLineEdit()
        self.label_reward_model.setPlaceholderText("optional: a reward_model run's checkpoint labels instead")
        self.eval_prompts = _spin(0, 10_000)
        self.eval_prompts.setToolTip("The project's first N prompts: the fixed evaluation set, never sampled from")
        self.seed = _spin(0, 2**31 - 1)
        self.scorer_box = QGroupBox("Label scorer per objective")
        self.scorer_form = QFormLayout(self.scorer_box)
        tips = {self.prompts: "Prompts each round samples from (the evaluation prompts are never used)",
                self.samples: "Answers sampled per prompt; pairs are built among them",
                self.temperature: "Sampling temperature of the round's answers",
                self.top_p: "Nucleus sampling: the smallest set of tokens with this much probability",
                self.max_new: "The longest answer sampled, in tokens",
                self.policy: "Which two answers make a pair (per objective); anchored and latest chosen compare "
                             "with an earlier model's answers",
                self.margin: "Policy 'margin': keep a pair only when its score gap is at least this",
                self.labeller: "Who labels the round's pairs: the objectives' scorers, people in the Label panel, "
                               "or both",
                self.label_reward_model: "A trained vector reward model's checkpoint folder labels instead of the "
                                         "scorers (its reward per objective)",
                self.seed: "Every prompt is sampled from its own seed derived from this: a resumed round repeats an "
                           "uninterrupted one"}
        for widget, tip in tips.items():
            widget.setToolTip(tip)
        form = QFormLayout()
        for label, widget in (("Prompts per round", self.prompts), ("Samples per prompt", self.samples),
                              ("Temperature", self.temperature), ("Top-p", self.top_p),
                              ("Max new tokens", self.max_new), ("Pairs", self.policy),
                              ("Margin (policy 'margin')", self.margin), ("Labelled by", self.labeller),
                              ("Mix confidence", self.mix_confidence), ("Label reward model", self.label_reward_model),
                              ("Evaluation prompts", self.eval_prompts), ("Seed", self.seed)):
            form.addRow(label, widget)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_summary, 1)
        run_row.addWidget(self.run_button)
        self.problems_label = QLabel()
        self.problems_label.setObjectName("error")
        self.problems_label.setWordWrap(True)
        self.load_button = QPushButton("Load file…")
        self.load_button.setToolTip("A loop .toml / .json with [run] and [round] tables (README \"Rounds\")")
        self.load_button.clicked.connect(self.load_file)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.addButton("Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.load_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(run_row)
        lay.addLayout(form)
        lay.addWidget(self.scorer_box)
        lay.addWidget(self.problems_label)
        lay.addWidget(self.buttons)
        for signal in (self.prompts.valueChanged, self.samples.valueChanged, self.max_new.valueChanged,
                       self.policy.currentIndexChanged, self.labeller.currentIndexChanged,
                       self.label_reward_model.textChanged):
            signal.connect(self._refresh)
        self.set_settings(settings)  # the one place the widgets take a RoundSettings (Load file… uses it too)

    def _fill_scorers(self, chosen: dict) -> None:
        while self.scorer_form.rowCount():
            self.scorer_form.removeRow(0)
        self.label_scorers = {}
        for objective in self.objectives:
            combo = QComboBox()
            combo.addItem("(choose a scorer)", "")
            for name in self.scorers:
                combo.addItem(name, name)
            want = chosen.get(objective) or (objective if objective in self.scorers else "")
            combo.setCurrentIndex(max(0, combo.findData(want)))
            combo.currentIndexChanged.connect(self._refresh)
            self.scorer_form.addRow(objective, combo)
            self.label_scorers[objective] = combo

    def settings(self) -> RoundSettings:
        scorers = {o: c.currentData() for o, c in self.label_scorers.items() if c.currentData()}
        return RoundSettings(prompts_per_round=self.prompts.value(), samples=self.samples.value(),
                             temperature=round(self.temperature.value(), 4), top_p=round(self.top_p.value(), 4),
                             max_new_tokens=self.max_new.value(), policy=self.policy.currentData(),
                             margin=self.margin.value(), labeller=self.labeller.currentData(),
                             label_scorers=scorers, label_reward_model=self.label_reward_model.text().strip(),
                             mix_confidence=self.mix_confidence.value(), eval_prompts=self.eval_prompts.value(),
                             seed=self.seed.value())

    def loop_objectives(self) -> list[str]:
        return list(self.run.objectives) or list(self.objectives)

    def problems(self) -> list[str]:
        return self.run.problems() + self.settings().problems(self.loop_objectives())

    def _refresh(self, *_: object) -> None:
        cfg = self.run
        objectives = ", ".join(self.loop_objectives()) or "no objectives"
        steps = (f"{cfg.max_steps} step{'s' if cfg.max_steps != 1 else ''}" if cfg.max_steps
                 else f"{cfg.epochs:g} epoch{'s' if cfg.epochs != 1 else ''}")
        self.run_summary.setText(f"<b>Each round trains</b> {cfg.model or '(no model chosen)'} · {cfg.method} · "
                                 f"{objectives} · {steps}, batch {cfg.batch_size}, lr {cfg.learning_rate:g}")
        labeller = self.labeller.currentData()
        self.margin.setEnabled(self.policy.currentData() == "margin")
        self.mix_confidence.setEnabled(labeller == "mix")
        automatic = labeller in ("scorers", "mix")
        self.label_reward_model.setEnabled(automatic)
        self.scorer_box.setEnabled(automatic and not self.label_reward_model.text().strip())
        problems = self.problems()
        self.problems_label.setText("\n".join(f"• {p}" for p in problems))
        self.save_button.setEnabled(not problems)

    def edit_run(self) -> QDialog:
        from workbench.ui.dialogs.new_run_dialog import NewRunDialog

        dlg = NewRunDialog(self.objectives, self.models, initial=self.run, scorers=self.scorers, parent=self)
        dlg.setWindowTitle("Run settings of every round")
        dlg.start_button.setText("OK")
        dlg.accepted.connect(lambda: self.set_run(dlg.config()))
        dlg.open()
        self.run_dialog = dlg
        return dlg

    def set_run(self, run: RunConfig) -> None:
        self.run = run
        self._refresh()

    def set_settings(self, settings: RoundSettings) -> None:
        self.prompts.setValue(settings.prompts_per_round)
        self.samples.setValue(settings.samples)
        self.temperature.setValue(settings.temperature)
        self.top_p.setValue(settings.top_p)
        self.max_new.setValue(settings.max_new_tokens)
        self.policy.setCurrentIndex(max(0, self.policy.findData(settings.policy)))
        self.margin.setValue(settings.margin)
        self.labeller.setCurrentIndex(max(0, self.labeller.findData(settings.labeller)))
        self.mix_confidence.setValue(settings.mix_confidence)
        self.label_reward_model.setText(settings.label_reward_model)
        self.eval_prompts.setValue(settings.eval_prompts)
        self.seed.setValue(settings.seed)
        self._fill_scorers(settings.label_scorers)
        self._refresh()

    def load_file(self, path: str | None = None) -> None:
        from workbench.ui.errors import show_error

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Loop settings", str(self.project_path.parent),
                                                  "Loop settings (*.toml *.json)")
        if not path:
            return
        try:
            run, settings = load_loop_config(path)
        except WorkbenchError as exc:
            show_error(self, "Loop settings", exc)
            return
        self.set_run(run)
        self.set_settings(settings)

    def save(self) -> None:
        from workbench.ui.errors import show_error

        if self.problems():
            return
        path = loop_file(self.project_path)
        try:
            write_loop_config(path, self.run, self.settings())
        except OSError as exc:
            show_error(self, "Loop settings", f"Could not save {path}: {exc.strerror or exc}")
            return
        self.saved = path
        self.accept()
