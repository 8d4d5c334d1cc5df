"""Trade-offs panel: the scatter shows every evaluated item, the highlighted front is workbench.core.pareto's,
the hypervolume label is the exact value against the per-axis worst point, and the axis pickers change the data."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.entities import Checkpoint, Evaluation, Run
from workbench.core.pareto import front_order, hypervolume, non_dominated
from workbench.services.tradeoffs import build_table
from workbench.ui.panels.tradeoffs_panel import TradeoffsPanel
from workbench.ui.widgets.steering import DISABLED_HINT

# (helpful accuracy, harmless accuracy, kl) for 5 checkpoints; kl is minimised.
VALUES = [(0.60, 0.90, 0.10), (0.70, 0.80, 0.20), (0.65, 0.70, 0.05), (0.80, 0.60, 0.40), (0.55, 0.55, 0.30)]


def table():
    runs = {1: Run(1, "mah", {"method": "mah_dpo", "beta": 0.1}, "finished", "/tmp/r1")}
    ckpts = {10 + i: Checkpoint(10 + i, 1, 100 * (i + 1), f"checkpoints/step-{100 * (i + 1)}") for i in range(5)}
    evs = []
    for i, (a, b, kl) in enumerate(VALUES):
        produced = {"samples": [{"prompt": "hi", "text": f"sample {i}"}]} if i == 0 else {}
        evs += [Evaluation(3 * i, "helpful", "accuracy", a, run_id=1, checkpoint_id=10 + i, produced_by=produced),
                Evaluation(3 * i + 1, "harmless", "accuracy", b, run_id=1, checkpoint_id=10 + i),
                Evaluation(3 * i + 2, "helpful", "kl", kl, run_id=1, checkpoint_id=10 + i)]
    return build_table(evs, {"helpful": "maximize", "harmless": "maximize"}, runs, ckpts)


@pytest.fixture
def panel(qtbot, ctx):
    p = TradeoffsPanel(ctx)
    qtbot.addWidget(p)
    p.set_table(table())
    return p


def pick(panel, x: str, y: str) -> None:
    axes = panel.table.axes
    panel.x_combo.setCurrentIndex(axes.index(x))
    panel.y_combo.setCurrentIndex(axes.index(y))


def test_points_front_and_hypervolume(panel):
    pick(panel, "helpful · accuracy", "harmless · accuracy")
    pts = np.array([(a, b) for a, b, _ in VALUES])
    shown = np.array([tuple(s.pos()) for s in panel.scatter.points()])
    assert sorted(map(tuple, shown.round(6))) == sorted(map(tuple, pts.round(6)))
    dirs = ["maximize", "maximize"]
    expected_front = pts[front_order(pts, dirs)]
    x, y = panel.front_curve.getData()
    np.testing.assert_allclose(np.column_stack([x, y]), expected_front)
    assert non_dominated(pts, dirs).sum() == 3  # (0.6,0.9), (0.7,0.8), (0.8,0.6)
    ref = pts.min(axis=0)  # per-axis worst value
    hv = hypervolume(pts, ref, dirs)
    # by hand: strips of the staircase above (0.55, 0.55): 0.05*0.35 + 0.10*0.25 + 0.10*0.05
    assert hv == pytest.approx(0.05 * 0.35 + 0.10 * 0.25 + 0.10 * 0.05)
    assert panel.hv_label.text() == f"Hypervolume: {hv:.4g}"


def test_axis_picker_changes_data_and_minimised_axes(panel):
    pick(panel, "helpful · kl", "harmless · accuracy")
    pts = np.array([(kl, b) for _, b, kl in VALUES])
    dirs = ["minimize", "maximize"]
    x, y = panel.front_curve.getData()
    np.testing.assert_allclose(np.column_stack([x, y]), pts[front_order(pts, dirs)])
    ref = np.array([pts[:, 0].max(), pts[:, 1].min()])
    assert panel.hv_label.text() == f"Hypervolume: {hypervolume(pts, ref, dirs):.4g}"
    assert "↓" in panel.x_combo.currentText()


def test_click_shows_details_with_samples(panel):
    pick(panel, "helpful · accuracy", "harmless · accuracy")
    panel.show_details(0)
    text = panel.details.toPlainText()
    assert "mah @ step 100" in text and "On the front" in text and "sample 0" in text
    panel.show_details(4)
    assert "On the front" not in panel.details.toPlainText()


def test_parallel_coordinates_for_three_axes(panel):
    assert panel.views.isTabEnabled(1)
    assert len(panel.parallel.lines) == len(VALUES)


def test_sliders_disabled_without_an_inference_worker(panel, ctx):
    box = panel.steering
    assert box.hint.text() == DISABLED_HINT and not box.hint.isHidden()
    assert not box.generate_button.isEnabled() and not box.sliders

    class FakeClient:
        objectives = ["helpful", "harmless"]

        def __init__(self):
            self.sent = []

        def set_weights(self, w):
            self.sent.append(("set_weights", w))

        def generate(self, prompt):
            self.sent.append(("generate", prompt))

    client = FakeClient()
    ctx.set_inference(client)
    assert box.hint.isHidden() and box.generate_button.isEnabled()
    box.sliders["helpful"].setValue(30)
    box.sliders["harmless"].setValue(10)
    assert box.weights() == pytest.approx({"helpful": 0.75, "harmless": 0.25})
    box.prompt.setText("Write a haiku")
    box.generate()
    assert client.sent[-2] == ("set_weights", pytest.approx({"helpful": 0.75, "harmless": 0.25}))
    assert client.sent[-1] == ("generate", "Write a haiku")


def test_sliders_steer_a_real_inference_worker_process(qtbot, panel, ctx):
    """InferenceClient + a worker process speaking the protocol: the weights set on the sliders reach the worker
    and the streamed tokens reach the output box."""
    import sys
    from pathlib import Path

    from workbench.services.inference_client import InferenceClient

    fake = Path(__file__).with_name("fake_inference_worker.py")
    client = InferenceClient(command=lambda: (sys.executable, [str(fake)]))
    loaded = []
    client.loaded.connect(loaded.append)
    client.start({"model": "/models/mah"})
    qtbot.waitUntil(lambda: bool(loaded), timeout=10_000)
    assert client.objectives == ["helpful", "harmless"]
    ctx.set_inference(client)
    box = panel.steering
    box.sliders["helpful"].setValue(60)
    box.sliders["harmless"].setValue(20)
    results = []
    client.result.connect(lambda req, data: results.append(req))
    box.prompt.setText("tell me a joke")
    box.generate()
    qtbot.waitUntil(lambda: any(r.startswith("gen-") for r in results), timeout=10_000)
    text = box.output.toPlainText()
    assert '{"harmless": 0.25, "helpful": 0.75}' in text and "tell me a joke" in " ".join(text.split())
    client.close()
    assert not client.is_running()
    ctx.set_inference(None)
    assert not box.generate_button.isEnabled()


def test_details_add_the_runs_settings_from_the_db_thread(panel, ctx, monkeypatch):
    import sys
    import types
    from contextlib import nullcontext

    class P:
        def session(self):
            return nullcontext(None)

    run = Run(1, "mah", {"method": "mah_dpo", "beta": 0.25, "learning_rate": 5e-5}, "finished", "/tmp/r1")
    monkeypatch.setitem(sys.modules, "workbench.store.runs",
                        types.SimpleNamespace(get_run=lambda s, rid: run if ctx.db.on_db_thread() else None))
    ctx.project = P()
    ctx.db.set_project(ctx.project)
    try:
        panel.show_details(1)
    finally:
        ctx.db.set_project(None)
        ctx.project = None
    text = panel.details.toPlainText()
    assert "Run settings" in text and "mah_dpo" in text and "0.25" in text
