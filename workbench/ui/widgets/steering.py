"""Weight sliders that steer a loaded multi-objective model (MAH-DPO heads or an adapter soup) live.

Enabled only when the Models panel has published an inference worker (`ctx.inference`) that mixes objectives
(`ctx.inference.objectives` non-empty). Otherwise the sliders are disabled and say how to get there — never fake
output. Weights are normalised to sum to 1 (a convex mixture, as MAH-DPO mixes head logits).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QSlider, QVBoxLayout, QWidget)

DISABLED_HINT = "Load a MAH-DPO model or soup in the Models panel to steer."


def normalised(raw: dict[str, int]) -> dict[str, float]:
    total = sum(raw.values())
    if total <= 0:
        return {k: 1.0 / len(raw) for k in raw} if raw else {}
    return {k: v / total for k, v in raw.items()}


class SteeringBox(QGroupBox):
    """One slider per objective, a prompt and the streamed generation."""

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__("Steer generation", parent)
        self.ctx = ctx
        self.sliders: dict[str, QSlider] = {}
        self.value_labels: dict[str, QLabel] = {}
        self.hint = QLabel(DISABLED_HINT)
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.grid = QGridLayout()
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Prompt to generate from with the current weights")
        self.generate_button = QPushButton("Generate")
        self.generate_button.clicked.connect(self.generate)
        self.prompt.returnPressed.connect(self.generate)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        row = QHBoxLayout()
        row.addWidget(self.prompt, 1)
        row.addWidget(self.generate_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addLayout(self.grid)
        layout.addLayout(row)
        layout.addWidget(self.output, 1)
        self._send_timer = QTimer(self)  # coalesce slider drags into one set_weights per 100 ms
        self._send_timer.setSingleShot(True)
        self._send_timer.setInterval(100)
        self._send_timer.timeout.connect(self.send_weights)
        self._client: Any = None
        ctx.inference_changed.connect(self.refresh)
        self.refresh()

    def objectives(self) -> list[str]:
        client = self.ctx.inference
        return list(getattr(client, "objectives", []) or []) if client is not None else []

    def refresh(self) -> None:
        """Rebuild the sliders for the loaded model's objectives (or disable them with the hint)."""
        objectives = self.objectives()
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.sliders.clear()
        self.value_labels.clear()
        for row, name in enumerate(objectives):
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setValue(100 // max(1, len(objectives)))
            slider.valueChanged.connect(self._on_slider)
            value = QLabel()
            self.grid.addWidget(QLabel(name), row, 0)
            self.grid.addWidget(slider, row, 1)
            self.grid.addWidget(value, row, 2)
            self.sliders[name] = slider
            self.value_labels[name] = value
        enabled = bool(objectives)
        self.hint.setVisible(not enabled)
        for w in (self.prompt, self.generate_button, self.output):
            w.setEnabled(enabled)
        self._connect_client(self.ctx.inference if enabled else None)
        self._update_labels()

    def _connect_client(self, client: Any) -> None:
        if client is self._client:
            return
        self._client = client
        token = getattr(client, "token", None)
        if token is not None and hasattr(token, "connect"):
            token.connect(self._on_token)

    def weights(self) -> dict[str, float]:
        return normalised({k: s.value() for k, s in self.sliders.items()})

    def _update_labels(self) -> None:
        for name, w in self.weights().items():
            self.value_labels[name].setText(f"{w:.2f}")

    def _on_slider(self, _: int) -> None:
        self._update_labels()
        self._send_timer.start()

    def send_weights(self) -> None:
        if self.ctx.inference is not None and self.sliders:
            self.ctx.inference.set_weights(self.weights())

    def generate(self) -> None:
        if self.ctx.inference is None or not self.sliders or not self.prompt.text().strip():
            return
        self.output.clear()
        self.send_weights()
        self.ctx.inference.generate(self.prompt.text().strip())

    def _on_token(self, *args: Any) -> None:
        text = args[-1] if args else ""
        self.output.insertPlainText(str(text))
