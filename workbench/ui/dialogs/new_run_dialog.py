"""New Run dialog: method, losses and objectives with weights, every RunConfig setting (help text as tooltips),
presets, and a memory/time estimate (workbench.services.estimates) shown before anything is launched.

Per method: MAH-DPO's head rank; MODPO's target objective and, for every other objective, where its margin comes
from (an earlier run's adapter or a scorer); a soup's ingredient adapter per objective (earlier runs' checkpoints);
for every method, the scorer that rates each objective at evaluation time. ε (label_smoothing) starts at the
label-flip rate the agreement dialog estimated, when one was saved (QSettings "label_noise/epsilon").
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from workbench.core.run_config import METHODS, RunConfig
from workbench.services.estimates import estimate, find_model_config, shape_from_config
from workbench.services.run_presets import LOSS_NAMES, PRESETS, apply_preset
from workbench.ui.widgets.config_form import FIELDS, ConfigForm
from workbench.ui.widgets.objective_sources import AdapterChoice, SourceTable, preferred_adapter

GROUPS: dict[str, tuple[str, ...]] = {
    "Loss": ("beta", "label_smoothing", "rpo_alpha", "wpo", "f_divergence", "f_alpha", "simpo_gamma", "orpo_lambda",
             "discopop_tau"),
    "Multi-objective": ("head_type", "head_rank", "objective_sampling"),
    "LoRA": ("lora_r", "lora_alpha", "lora_dropout"),
    "Optimisation": ("learning_rate", "weight_decay", "scheduler", "warmup_ratio", "max_steps", "epochs", "batch_size",
                     "grad_accum", "max_grad_norm", "precision", "gradient_checkpointing", "reference", "seed",
                     "device"),
    "Data": ("max_length", "max_prompt_length", "prefix_sharing", "logprob_chunk", "eval_fraction"),
    "Evaluation": ("eval_prompts", "eval_max_new_tokens", "sweep_points", "active_candidates", "eval_reward_model"),
    "Reward model": ("kind", "prm_head", "prm_beta", "rm_center_coefficient"),  # issue #17: what the run trains
    "Checkpoints": ("checkpoint_every", "eval_every", "log_every"),
    "GPUs": ("processes", "fsdp", "collective_timeout_s"),
}
WEIGHTED_METHODS = ("weighted", "modpo", "mah_dpo", "soup")


class WeightTable(QTableWidget):
    """Rows of (checkbox + name, weight): used for objectives and for losses."""

    def __init__(self, names: list[str], header: str, parent: QWidget | None = None) -> None:
        super().__init__(len(names), 2, parent)
        self.setHorizontalHeaderLabels([header, "Weight"])
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().hide()
        self.spins: dict[str, QDoubleSpinBox] = {}
        for row, name in enumerate(names):
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.setItem(row, 0, item)
            spin = QDoubleSpinBox()
            spin.setRange(0.0, 100.0)
            spin.setSingleStep(0.1)
            spin.setDecimals(3)
            spin.setValue(1.0)
            self.setCellWidget(row, 1, spin)
            self.spins[name] = spin

    def set_checked(self, values: dict[str, float] | list[str], *, all_if_empty: bool = False) -> None:
        chosen = dict(values) if isinstance(values, dict) else {v: 1.0 for v in values}
        for row in range(self.rowCount()):
            name = self.item(row, 0).text()
            on = name in chosen or (all_if_empty and not chosen)
            self.item(row, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.spins[name].setValue(float(chosen.get(name, 1.0)))

    def checked(self) -> dict[str, float]:
        out = {}
        for row in range(self.rowCount()):
            item = self.item(row, 0)
            if item.checkState() == Qt.CheckState.Checked:
                out[item.text()] = self.spins[item.text()].value()
        return out


class NewRunDialog(QDialog):
    """Build a RunConfig; `config()` returns it, `problems()` says why it cannot run."""

    def __init__(self, objectives: list[str], models: list[str], *, train_pairs: int = 0, train_solutions: int = 0,
                 initial: RunConfig | None = None, adapters: list[AdapterChoice] | None = None,
                 scorers: list[str] | None = None, epsilon_note: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New run")
        self.objectives = list(objectives)
        self.train_pairs, self.train_solutions = train_pairs, train_solutions  # for the estimate
        self.adapters = list(adapters or [])
        self.modpo_target = QComboBox()
        self.modpo_target.setToolTip(FIELDS["modpo_target"].metadata["help"])
        self.margin_table = SourceTable("Margin from", "(choose an adapter or a scorer)", ("adapter", "scorer"))
        self.margin_table.setToolTip(FIELDS["margin_adapters"].metadata["help"] + " " +
                                     FIELDS["margin_scorers"].metadata["help"])
        self.soup_table = SourceTable("Adapter", "(choose an earlier run's checkpoint)", ("adapter",))
        self.soup_table.setToolTip(FIELDS["soup_adapters"].metadata["help"])
        self.eval_table = SourceTable("Rated by", "held-out implicit-reward accuracy", ("scorer",))
        self.eval_table.setToolTip(FIELDS["eval_scorers"].metadata["help"])
        for table in (self.margin_table, self.soup_table, self.eval_table):
            table.set_choices(self.adapters, list(scorers or []))
        self.epsilon_note = QLabel(epsilon_note)
        self.epsilon_note.setObjectName("hint")
        self.epsilon_note.setWordWrap(True)
        self.epsilon_note.setVisible(bool(epsilon_note))
        self.preset = QComboBox()
        self.preset.addItems(["(custom)", *PRESETS])
        self.name = QLineEdit()
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItems(models)
        self.model.setToolTip(FIELDS["model"].metadata["help"])
        browse = QPushButton("Folder…")
        browse.clicked.connect(self._browse_model)
        self.method = QComboBox()
        self.method.addItems(list(METHODS))
        self.method.setToolTip(FIELDS["method"].metadata["help"])
        self.objective_table = WeightTable(self.objectives, "Objective")
        self.objective_table.setToolTip(FIELDS["objectives"].metadata["help"] + " " +
                                        FIELDS["weights"].metadata["help"])
        self.loss_table = WeightTable(list(LOSS_NAMES), "Loss")
        self.loss_table.setToolTip(FIELDS["losses"].metadata["help"])
        self.forms = {title: ConfigForm(names) for title, names in GROUPS.items()}
        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("estimate")
        self.estimate_label.setWordWrap(True)
        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #D55E00")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton("Start run", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._layout(browse)
        self.set_config(initial or RunConfig())
        self._wire()

    def _layout(self, browse: QPushButton) -> None:
        head = QFormLayout()
        head.addRow("Preset", self.preset)
        head.addRow("Name", self.name)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        head.addRow("Model", model_row)
        head.addRow("Method", self.method)
        left = QVBoxLayout()
        left.addLayout(head)
        for title, table in (("Objectives", self.objective_table), ("Losses", self.loss_table)):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(table)
            left.addWidget(box, 1)
        tabs = QTabWidget()
        for title, form in self.forms.items():
            tabs.addTab(self._tab_page(title, form), title)
        self.tabs = tabs
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addWidget(tabs, 1)
        outer = QVBoxLayout(self)
        outer.addLayout(body, 1)
        outer.addWidget(self.epsilon_note)
        outer.addWidget(self.estimate_label)
        outer.addWidget(self.problems_label)
        outer.addWidget(self.buttons)
        self.resize(1220, 700)

    def _tab_page(self, title: str, form: ConfigForm) -> QWidget:
        """The settings form of a tab, plus the per-objective pickers on the Multi-objective and Evaluation tabs."""
        if title not in ("Multi-objective", "Evaluation"):
            return form
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addWidget(form)
        if title == "Evaluation":
            lay.addWidget(_boxed("Scorer per objective (reward vector of a checkpoint or mixture)", self.eval_table))
            return page
        form.layout().addRow("MODPO target", self.modpo_target)
        self.modpo_box = _boxed("MODPO: margin of each other objective", self.margin_table)
        self.soup_box = _boxed("Soup: one adapter per objective", self.soup_table)
        lay.addWidget(self.modpo_box, 1)
        lay.addWidget(self.soup_box, 1)
        return page

    def _wire(self) -> None:
        self.preset.currentTextChanged.connect(self._apply_preset)
        for signal in (self.name.textChanged, self.model.currentTextChanged, self.method.currentTextChanged,
                       self.objective_table.itemChanged, self.loss_table.itemChanged):
            signal.connect(self._refresh)
        self.objective_table.itemChanged.connect(self._sync_objective_rows)
        self.method.currentTextChanged.connect(self._sync_objective_rows)
        self.modpo_target.currentTextChanged.connect(self._sync_objective_rows)
        for table in (self.margin_table, self.soup_table, self.eval_table):
            table.changed.connect(self._refresh)
        for table in (self.objective_table, self.loss_table):
            for spin in table.spins.values():
                spin.valueChanged.connect(self._refresh)
        for form in self.forms.values():
            form.changed.connect(self._refresh)

    # --- reading and writing the config -------------------------------------------------------------------------
    def set_config(self, cfg: RunConfig) -> None:
        self.name.setText(cfg.name)
        self.model.setCurrentText(cfg.model)
        self.method.setCurrentText(cfg.method)
        weights = cfg.weights or {o: 1.0 for o in cfg.objectives}
        self.objective_table.set_checked(weights or cfg.objectives, all_if_empty=True)
        self.loss_table.set_checked(cfg.losses)
        for form in self.forms.values():
            form.set_values(cfg)
        chosen = list(self.objective_table.checked())
        self._fill_target(chosen, cfg.modpo_target)
        margins = {o: ("adapter", p) for o, p in cfg.margin_adapters.items()}
        margins.update({o: ("scorer", n) for o, n in cfg.margin_scorers.items()})
        target = self.modpo_target.currentText()
        self.margin_table.set_objectives([o for o in chosen if o != target], margins)
        self.soup_table.set_objectives(chosen, self._soup_defaults(chosen, cfg.soup_adapters))
        self.eval_table.set_objectives(chosen, {o: ("scorer", n) for o, n in cfg.eval_scorers.items()})
        self._refresh()

    def _soup_defaults(self, objectives: list[str], given: dict[str, str]) -> dict[str, tuple[str, str]]:
        """The given soup adapters, else each objective's latest single-objective checkpoint."""
        out = {o: ("adapter", p) for o, p in given.items()}
        for o in objectives:
            best = preferred_adapter(self.adapters, o)
            if o not in out and best is not None:
                out[o] = ("adapter", best.path)
        return out

    def _fill_target(self, chosen: list[str], target: str) -> None:
        self.modpo_target.blockSignals(True)
        self.modpo_target.clear()
        self.modpo_target.addItems(chosen)
        self.modpo_target.setCurrentIndex(chosen.index(target) if target in chosen else (0 if chosen else -1))
        self.modpo_target.blockSignals(False)

    def _sync_objective_rows(self, *_: object) -> None:
        """Keep the per-objective pickers in step with the chosen objectives and the MODPO target."""
        chosen = list(self.objective_table.checked())
        self._fill_target(chosen, self.modpo_target.currentText())
        target = self.modpo_target.currentText()
        for table, rows in ((self.margin_table, [o for o in chosen if o != target]), (self.soup_table, chosen),
                            (self.eval_table, chosen)):
            if list(table.combos) != rows:
                table.blockSignals(True)
                keep = table.sources()
                if table is self.soup_table:
                    keep = {**self._soup_defaults(rows, {}), **keep}
                table.set_objectives(rows, keep)
                table.blockSignals(False)
        self._refresh()

    def config(self) -> RunConfig:
        """The RunConfig the dialog describes (raises ValueError for a field that is not a number)."""
        values: dict = {}
        for form in self.forms.values():
            values.update(form.values())
        chosen = self.objective_table.checked()
        method = self.method.currentText()
        everything = len(chosen) == len(self.objectives)
        objectives = [] if everything and method == "dpo" else list(chosen)
        weights = chosen if method in WEIGHTED_METHODS else {}
        modpo, soup = method == "modpo", method == "soup"
        return RunConfig(name=self.name.text().strip() or "run", model=self.model.currentText().strip(),
                         method=method, objectives=objectives, weights=weights,
                         losses=self.loss_table.checked(),
                         modpo_target=self.modpo_target.currentText() if modpo else "",
                         margin_adapters=self.margin_table.of_kind("adapter") if modpo else {},
                         margin_scorers=self.margin_table.of_kind("scorer") if modpo else {},
                         soup_adapters=self.soup_table.of_kind("adapter") if soup else {},
                         eval_scorers=self.eval_table.of_kind("scorer"), **values)

    def problems(self) -> list[str]:
        try:
            cfg = self.config()
        except ValueError as exc:
            return [str(exc)]
        out = cfg.problems()
        if not cfg.model:
            out.append("choose a model (a local folder, a hub id or a .gguf file)")
        if self.objectives and not self.objective_table.checked():
            out.append("choose at least one objective")
        if cfg.method in ("weighted", "mah_dpo", "soup") and len(self.objective_table.checked()) < 2:
            out.append(f"{cfg.method} needs at least two objectives")
        if cfg.method == "modpo":
            if cfg.modpo_target not in self.objective_table.checked():
                out.append("MODPO: set 'MODPO target' to one of the chosen objectives")
            missing = [o for o in self.margin_table.combos if o not in self.margin_table.sources()]
            if missing:
                out.append(f"MODPO: choose where the margin of {', '.join(missing)} comes from (an earlier run's "
                           "adapter or a scorer)")
        if cfg.method == "soup":
            missing = [o for o in self.soup_table.combos if o not in cfg.soup_adapters]
            if missing:
                out.append(f"soup: choose an adapter for {', '.join(missing)} (train a run on that objective first)")
        return out

    # --- reactions --------------------------------------------------------------------------------------------
    def _apply_preset(self, name: str) -> None:
        if name in PRESETS:
            base = dataclasses.replace(self._safe_config(), name=self.name.text() or "run")
            self.set_config(apply_preset(name, base, self.objectives))

    def _safe_config(self) -> RunConfig:
        try:
            return self.config()
        except ValueError:
            return RunConfig()

    def _browse_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Model folder")
        if path:
            self.model.setCurrentText(path)

    def _refresh(self, *_: object) -> None:
        problems = self.problems()
        self.problems_label.setText("\n".join(f"• {p}" for p in problems))
        self.start_button.setEnabled(not problems)
        cfg = self._safe_config()
        policy = cfg.kind == "policy"  # a PRM or reward model has no preference method, losses or heads
        method = self.method.currentText() if policy else ""
        self.method.setEnabled(policy)
        self.loss_table.setEnabled(policy)
        for editor in self.forms["Loss"].editors.values():
            editor.setEnabled(policy)
        self.objective_table.setColumnHidden(1, method not in WEIGHTED_METHODS)
        self.modpo_box.setVisible(method == "modpo")
        self.soup_box.setVisible(method == "soup")
        self.forms["Multi-objective"].editors["head_type"].setEnabled(method == "mah_dpo")
        self.forms["Multi-objective"].editors["head_rank"].setEnabled(method == "mah_dpo" and cfg.head_type != "full")
        self.forms["Multi-objective"].editors["objective_sampling"].setEnabled(method in ("weighted", "mah_dpo"))
        self.modpo_target.setEnabled(method == "modpo")
        rm = self.forms["Reward model"].editors
        rm["prm_head"].setEnabled(cfg.kind == "prm")
        rm["prm_beta"].setEnabled(cfg.kind == "prm" and cfg.prm_head == "implicit")
        rm["rm_center_coefficient"].setEnabled(cfg.kind == "reward_model")
        self.estimate_label.setText(self.estimate_text(cfg))

    def estimate_text(self, cfg: RunConfig | None = None) -> str:
        cfg = cfg or self._safe_config()
        config = find_model_config(cfg.model)
        if config is None:
            return ("Estimate: the model's config.json was not found on this computer (choose a local folder or a "
                    "hub model already downloaded) — memory and time cannot be estimated yet.")
        try:
            shape = shape_from_config(config)
        except (TypeError, ValueError, ZeroDivisionError):
            return "Estimate: this model's config.json lacks the sizes needed for an estimate."
        text = "Estimate: " + estimate(cfg, shape, train_pairs=max(1, self.train_pairs),
                                       train_solutions=max(1, self.train_solutions)).summary()
        if cfg.method == "mah_dpo" and cfg.head_type == "full":
            k = max(1, len(cfg.objectives))
            n = k * shape.vocab * shape.hidden
            text += (f" Full heads: {k} × {shape.vocab} × {shape.hidden} = {n / 1e6:.1f} M parameters "
                     f"({n * 16 / 2**30:.2f} GiB with gradients and AdamW state; low-rank heads of rank "
                     f"{cfg.head_rank}: {k * 2 * cfg.head_rank * shape.hidden / 1e6:.3f} M).")
        return text


def _boxed(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    QVBoxLayout(box).addWidget(widget)
    return box
