"""Weight sliders that steer a loaded multi-objective model (MAH-DPO heads or an adapter soup) live, and the reward
vector that goes with the weights.

The model is either one the Trade-offs panel loaded for a clicked run (`load_run`: its own inference worker with the
run's checkpoint, heads included, or its soup adapters) or the one the Models panel published (`ctx.inference`).
Without a model that mixes objectives the sliders are disabled and say how to get there — never fake output.
Weights follow the one rule of core.weights (>= 0, not all zero, normalised to sum 1: a convex mixture, as MAH-DPO
mixes head logits); all sliders at zero send nothing and say why.

The reward vector shown has two parts, both labelled with where they come from:
- at these weights: the evaluated mixture of the run nearest to the slider weights (evaluations table), with the
  distance between the two weight vectors — an estimate, exact when a slider setting was evaluated;
- this generation: the run's evaluation scorers (RunConfig.eval_scorers) applied to the text just generated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QSlider, QVBoxLayout, QWidget)

from workbench.core.scorers import Scorer
from workbench.core.weights import WeightError, validate_weights
from workbench.services.tradeoffs import Table, nearest_mixture

DISABLED_HINT = ("To steer, click a point of a MAH-DPO run or soup and press Steer this run (or load such a model "
                 "in the Models panel).")


def rebalanced(values: dict[str, int], moved: str, total: int = 100) -> dict[str, int]:
    """Slider positions that sum to `total` after `moved` was set: the rest is shared among the other sliders in
    proportion to where they were (equally when they were all at 0); rounding is settled on the largest share.
    So the handles show the same normalised weights as their labels (issue #13)."""
    rest = max(0, total - values[moved])
    others = [k for k in values if k != moved]
    if not others:
        return {moved: total}
    held = sum(values[k] for k in others)
    share = {k: (values[k] / held if held > 0 else 1.0 / len(others)) * rest for k in others}
    out = {moved: total - rest, **{k: int(round(v)) for k, v in share.items()}}
    biggest = max(others, key=lambda k: share[k])
    out[biggest] += total - sum(out.values())
    return out


def normalised(raw: dict[str, int]) -> dict[str, float]:
    """The slider values under the one weight rule (core.weights); {} when they break it (all at zero)."""
    try:
        return validate_weights(raw) if raw else {}
    except WeightError:
        return {}


def weight_problem(raw: dict[str, int]) -> str:
    """Why the slider values cannot steer ("" when they can): the same message every client gives."""
    try:
        validate_weights(raw)
    except WeightError as exc:
        return str(exc)
    return ""


class SteeringBox(QGroupBox):
    """One slider per objective, a prompt, the streamed generation and the reward vector."""

    weights_changed = Signal(object)  # dict[str, float]: the normalised slider weights

    def __init__(self, ctx: Any, parent: QWidget | None = None, *,
                 client_factory: Callable[[QWidget], Any] | None = None) -> None:
        super().__init__("Steer generation", parent)
        self.ctx = ctx
        self.client_factory = client_factory
        self.own_client: Any = None  # a worker this box started for a run (load_run)
        self.run_id: int | None = None  # the run whose mixtures give the expected reward vector
        self.scorers: dict[str, Scorer] = {}  # objective -> scorer rating generations
        self.table = Table([], [], {})
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
        self.vector_label = QLabel()
        self.vector_label.setWordWrap(True)
        self.vector_label.setTextFormat(Qt.TextFormat.RichText)
        self.generation_label = QLabel()
        self.generation_label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.prompt, 1)
        row.addWidget(self.generate_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addLayout(self.grid)
        layout.addWidget(self.vector_label)
        layout.addLayout(row)
        layout.addWidget(self.output, 1)
        layout.addWidget(self.generation_label)
        self._send_timer = QTimer(self)  # coalesce slider drags into one set_weights per 100 ms
        self._send_timer.setSingleShot(True)
        self._send_timer.setInterval(100)
        self._send_timer.timeout.connect(self.send_weights)
        self._client: Any = None
        self._request = ""
        self._prompt = ""
        ctx.inference_changed.connect(self.refresh)
        self.refresh()

    # --- which model ------------------------------------------------------------------------------------------
    def client(self) -> Any:
        """The worker to steer: the one loaded here for a run when it is up, else the Models panel's."""
        if self.own_client is not None and getattr(self.own_client, "objectives", None):
            return self.own_client
        return self.ctx.inference

    def objectives(self) -> list[str]:
        client = self.client()
        return list(getattr(client, "objectives", []) or []) if client is not None else []

    def load_run(self, run_id: int, spec: dict[str, Any], label: str) -> None:
        """Start an inference worker on `spec` (model + adapter or soup_adapters) to steer run `run_id`."""
        self.close_own()
        if self.client_factory is None:
            return
        client = self.client_factory(self)
        client.loaded.connect(lambda _data: self.refresh())
        client.ended.connect(self._on_ended)
        self.own_client, self.run_id = client, run_id
        self.hint.setText(f"Loading {label} for steering…")
        self.hint.show()
        client.start(spec)

    def _on_ended(self, reason: str, error: str) -> None:
        if reason in ("failed", "crashed"):
            self.hint.setText(f"The model could not be loaded for steering: {error or reason}")
        self.own_client = None
        self.refresh()
        self.hint.setVisible(True)

    def close_own(self) -> None:
        if self.own_client is not None:
            client, self.own_client = self.own_client, None
            client.ended.disconnect(self._on_ended)
            client.close()
            client.deleteLater()

    def set_source(self, table: Table, run_id: int | None, scorers: dict[str, Scorer]) -> None:
        """The evaluations to read the expected reward vector from, the run steered, and its scorers."""
        self.table, self.scorers = table, dict(scorers)
        if run_id is not None:
            self.run_id = run_id
        self._show_vector()

    # --- sliders ----------------------------------------------------------------------------------------------
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
            slider.setValue(100 // max(1, len(objectives)))  # the remainder is settled below
            slider.valueChanged.connect(lambda v, n=name: self._on_slider_moved(n))
            value = QLabel()
            self.grid.addWidget(QLabel(name), row, 0)
            self.grid.addWidget(slider, row, 1)
            self.grid.addWidget(value, row, 2)
            self.sliders[name] = slider
            self.value_labels[name] = value
        if objectives:
            self._set_positions(rebalanced({k: s.value() for k, s in self.sliders.items()}, objectives[0]))
        enabled = bool(objectives)
        if not enabled and self.own_client is None:
            self.hint.setText(DISABLED_HINT)
        self.hint.setVisible(not enabled)
        for w in (self.prompt, self.generate_button, self.output):
            w.setEnabled(enabled)
        self._connect_client(self.client() if enabled else None)
        self._update_labels()
        self._show_vector()

    def _connect_client(self, client: Any) -> None:
        if client is self._client:
            return
        for signal, slot in (("token", self._on_token), ("result", self._on_result)):
            old = getattr(self._client, signal, None)
            if old is not None and hasattr(old, "disconnect"):
                try:
                    old.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass  # the old worker is gone already
        self._client = client
        for signal, slot in (("token", self._on_token), ("result", self._on_result)):
            sig = getattr(client, signal, None)
            if sig is not None and hasattr(sig, "connect"):
                sig.connect(slot)

    def weights(self) -> dict[str, float]:
        return normalised({k: s.value() for k, s in self.sliders.items()})

    def set_weights(self, weights: dict[str, float]) -> None:
        """Move the sliders to `weights` (e.g. those of a clicked mixture)."""
        norm = normalised({k: max(0, round(1000 * float(weights.get(k, 0.0)))) for k in self.sliders})
        if self.sliders:
            first = next(iter(self.sliders))
            self._set_positions(rebalanced({k: round(100 * w) for k, w in norm.items()}, first))
        self._on_slider(0)

    def _set_positions(self, values: dict[str, int]) -> None:
        for name, v in values.items():
            slider = self.sliders[name]
            slider.blockSignals(True)
            slider.setValue(v)
            slider.blockSignals(False)

    def _on_slider_moved(self, name: str) -> None:
        """Keep the handles on the simplex (they sum to 100): what a handle shows is the weight used."""
        self._set_positions(rebalanced({k: s.value() for k, s in self.sliders.items()}, name))
        self._on_slider(0)

    def _update_labels(self) -> None:
        for name, w in self.weights().items():
            self.value_labels[name].setText(f"{w:.2f}")

    def _on_slider(self, _: int) -> None:
        self._update_labels()
        self._show_vector()
        self._send_timer.start()

    def send_weights(self) -> None:
        client = self.client()
        if client is None or not self.sliders:
            return
        problem = weight_problem({k: s.value() for k, s in self.sliders.items()})
        self.hint.setText(problem)
        self.hint.setVisible(bool(problem))
        if not problem:
            client.set_weights(self.weights())

    # --- reward vector ----------------------------------------------------------------------------------------
    def expected_vector(self) -> tuple[dict[str, float], dict[str, float], float] | None:
        """(reward vector, weights of the mixture it was measured at, distance) of the nearest evaluated mixture."""
        if self.run_id is None or not self.sliders:
            return None
        found = nearest_mixture(self.table, self.run_id, self.weights())
        if found is None:
            return None
        item, distance = found
        return dict(item.values), dict(item.weights or {}), distance

    def _show_vector(self) -> None:
        weights = self.weights()
        self.weights_changed.emit(weights)
        found = self.expected_vector()
        if not self.sliders:
            self.vector_label.setText("")
        elif found is None:
            self.vector_label.setText("No evaluated mixture of this model yet: use Evaluate mixtures… to measure "
                                      "the reward vectors along the weights.")
        else:
            values, at, distance = found
            where = ", ".join(f"{k} {v:.2f}" for k, v in sorted(at.items()))
            vec = "".join(f"<tr><td>{k}</td><td>&nbsp;<b>{v:.4g}</b></td></tr>" for k, v in sorted(values.items()))
            exact = "measured at these weights" if distance < 1e-9 else \
                f"nearest evaluated mixture ({where}; distance {distance:.2f})"
            self.vector_label.setText(f"<b>Reward vector</b> — {exact}<table>{vec}</table>")

    # --- generation -------------------------------------------------------------------------------------------
    def generate(self) -> None:
        client = self.client()
        if client is None or not self.sliders or not self.prompt.text().strip():
            return
        self.output.clear()
        self.generation_label.clear()
        self.send_weights()
        self._prompt = self.prompt.text().strip()  # scored with the text it produced, even if edited meanwhile
        self._request = str(client.generate(self._prompt) or "")

    def _on_token(self, *args: Any) -> None:
        if len(args) >= 2 and args[0] != self._request:  # tokens of another request (the Models playground)
            return
        text = args[-1] if args else ""
        self.output.insertPlainText(str(text))

    def _on_result(self, request: str, data: Any) -> None:
        if request != self._request or not isinstance(data, dict) or "text" not in data:
            return
        self.generation_label.setText(self.score_generation(self._prompt, str(data["text"])))

    def score_generation(self, prompt: str, text: str) -> str:
        """The run's evaluation scorers on this generation (objectives without one are rated on held-out pairs
        only, which a single generation cannot give)."""
        if not self.scorers:
            return "This generation: no scorer is set for these objectives (RunConfig.eval_scorers)."
        parts = []
        for objective, scorer in sorted(self.scorers.items()):
            try:
                parts.append(f"{objective} ({scorer.name}) = {scorer(prompt, text):.4g}")
            except Exception as exc:  # noqa: BLE001 - a user's scorer failing is shown, not raised
                parts.append(f"{objective} ({scorer.name}) failed: {exc}")
        return "This generation: " + "; ".join(parts)
