"""Trade-offs panel: the scatter shows every evaluated item, the highlighted front is workbench.core.pareto's,
the hypervolume label is the exact value against the project's reference point (issue 11: the base model's reward
vector, not the points drawn), the base model is a marked point, and the axis pickers change the data."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.entities import Checkpoint, Evaluation, Run
from workbench.core.hv_reference import ReferencePoint
from workbench.core.pareto import front_order, hypervolume, non_dominated
from workbench.services.tradeoffs import build_table
from workbench.ui.panels.tradeoffs_panel import TradeoffsPanel
from workbench.ui.widgets.steering import DISABLED_HINT

# (helpful accuracy, harmless accuracy, kl) for 5 checkpoints; kl is minimised.
VALUES = [(0.60, 0.90, 0.10), (0.70, 0.80, 0.20), (0.65, 0.70, 0.05), (0.80, 0.60, 0.40), (0.55, 0.55, 0.30)]


REFERENCE = ReferencePoint({"helpful · accuracy": 0.5, "harmless · accuracy": 0.5},
                           {"helpful · accuracy": "base model", "harmless · accuracy": "set by user"})


def table(extra: list[Evaluation] = ()):
    runs = {1: Run(1, "mah", {"method": "mah_dpo", "beta": 0.1}, "finished", "/tmp/r1")}
    ckpts = {10 + i: Checkpoint(10 + i, 1, 100 * (i + 1), f"checkpoints/step-{100 * (i + 1)}") for i in range(5)}
    evs = []
    for i, (a, b, kl) in enumerate(VALUES):
        produced = {"samples": [{"prompt": "hi", "text": f"sample {i}"}]} if i == 0 else {}
        evs += [Evaluation(3 * i, "helpful", "accuracy", a, run_id=1, checkpoint_id=10 + i, produced_by=produced),
                Evaluation(3 * i + 1, "harmless", "accuracy", b, run_id=1, checkpoint_id=10 + i),
                Evaluation(3 * i + 2, "", "kl", kl, run_id=1, checkpoint_id=10 + i)]
    return build_table(evs + list(extra), {"helpful": "maximize", "harmless": "maximize"}, runs, ckpts, REFERENCE)


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
    hv = hypervolume(pts, [0.5, 0.5], dirs)  # the project's reference point, not the worst value drawn
    # by hand: strips of the staircase above (0.5, 0.5): 0.3*0.1 + 0.2*0.2 + 0.1*0.1
    assert hv == pytest.approx(0.3 * 0.1 + 0.2 * 0.2 + 0.1 * 0.1)
    assert panel.hv_label.text() == f"Hypervolume: {hv:.4g}"
    assert panel.hv_label.toolTip().startswith(
        f"Hypervolume {hv:.4g} (reference point: helpful · accuracy 0.5 (base model), harmless · accuracy 0.5 (set "
        "by user))")


def test_dominated_point_and_base_model_leave_the_hypervolume_alone(panel):
    """Issue 11: adding a dominated point moved the GUI's hypervolume from 0.16 to 0.52; the base model is a point of
    the front, drawn as a triangle and labelled."""
    pick(panel, "helpful · accuracy", "harmless · accuracy")
    before = panel.view.hypervolume
    base = [Evaluation(90, "helpful", "accuracy", 0.5, run_id=1, produced_by={"base_model": True}),
            Evaluation(91, "harmless", "accuracy", 0.5, run_id=1, produced_by={"base_model": True}),
            Evaluation(92, "helpful", "accuracy", 0.52, run_id=1, checkpoint_id=99),  # dominated by everything
            Evaluation(93, "harmless", "accuracy", 0.51, run_id=1, checkpoint_id=99)]
    panel.set_table(table(base))
    pick(panel, "helpful · accuracy", "harmless · accuracy")
    assert len(panel.scatter.points()) == 7 and panel.view.hypervolume == before
    item = next(it for it in panel.table.items if it.base)
    assert item.label.startswith("base model") and item.values == {"helpful · accuracy": 0.5,
                                                                  "harmless · accuracy": 0.5}
    symbols = {tuple(s.pos()): s.symbol() for s in panel.scatter.points()}
    assert symbols[(0.5, 0.5)] == "t" and symbols[(0.6, 0.9)] == "o"


def test_axis_picker_changes_data_and_minimised_axes(panel):
    pick(panel, "kl", "harmless · accuracy")
    pts = np.array([(kl, b) for _, b, kl in VALUES])
    dirs = ["minimize", "maximize"]
    x, y = panel.front_curve.getData()
    np.testing.assert_allclose(np.column_stack([x, y]), pts[front_order(pts, dirs)])
    assert panel.hv_label.text() == "Hypervolume: — (no reference)"  # kl has no reference value
    assert "no reference value for kl" in panel.hv_label.toolTip()
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
    box.sliders["helpful"].setValue(75)  # the handles stay on the simplex: harmless follows to 25
    assert box.sliders["harmless"].value() == 25
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
    box.sliders["harmless"].setValue(25)
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


def mixture_table():
    """Run 1 evaluated at three mixtures: helpful accuracy = 0.5 + 0.4·w_helpful, harmless likewise."""
    runs = {1: Run(1, "mah", {"method": "mah_dpo"}, "finished", "/tmp/r1")}
    evs = []
    for i, wh in enumerate((1.0, 0.75, 0.5, 0.0)):
        w = {"helpful": wh, "harmless": 1.0 - wh}
        evs += [Evaluation(2 * i, "helpful", "accuracy", 0.5 + 0.4 * wh, run_id=1, weights=w),
                Evaluation(2 * i + 1, "harmless", "accuracy", 0.5 + 0.4 * (1 - wh), run_id=1, weights=w)]
    return build_table(evs, {"helpful": "maximize", "harmless": "maximize"}, runs, {})


def test_steering_shows_the_reward_vector_of_the_nearest_mixture_and_scores_generations(panel, ctx):
    from workbench.core.scorers import scorer_registry

    class FakeClient:
        objectives = ["helpful", "harmless"]

        def set_weights(self, w):
            pass

        def generate(self, prompt):
            return "gen-1"

    panel.set_table(mixture_table())
    pick(panel, "helpful · accuracy", "harmless · accuracy")
    length = scorer_registry().get("length_tokens")
    panel.steering.set_source(panel.table, 1, {"harmless": length})
    ctx.set_inference(FakeClient())
    box = panel.steering
    box.sliders["harmless"].setValue(25)
    values, at, distance = box.expected_vector()
    assert at == {"helpful": 0.75, "harmless": 0.25} and distance == pytest.approx(0.0)
    assert values == pytest.approx({"helpful · accuracy": 0.8, "harmless · accuracy": 0.6})
    assert "measured at these weights" in box.vector_label.text()
    x, y = panel.steer_marker.getData()
    assert (x[0], y[0]) == pytest.approx((0.8, 0.6))  # the star sits on that mixture's point
    box.sliders["harmless"].setValue(40)  # (0.6, 0.4): nearest evaluated is (0.5, 0.5), distance √0.02
    values, at, distance = box.expected_vector()
    assert at == {"helpful": 0.5, "harmless": 0.5} and distance == pytest.approx(0.02 ** 0.5)
    assert "nearest evaluated mixture" in box.vector_label.text()
    box.prompt.setText("Say hi")
    box.generate()
    box._on_result("gen-1", {"text": "hello there friend"})
    assert box.generation_label.text() == f"This generation: harmless (length_tokens) = " \
                                          f"{length('Say hi', 'hello there friend'):.4g}"
    panel.show_details(1)  # clicking a mixture of the steered run moves the sliders to its weights
    assert box.weights() == pytest.approx({"helpful": 0.75, "harmless": 0.25})
    ctx.set_inference(None)


def finished_mah_run(ctx, tmp_path):
    """A finished MAH-DPO run with one checkpoint (step 10) in the real store, as the worker would leave it."""
    from workbench.core.protocol import encode
    from workbench.core.run_config import RunConfig
    from workbench.store.ingest import ingest_events_file
    from workbench.store.runs import create_run, set_run_status

    run_dir = tmp_path / "run-mah"
    run_dir.mkdir()
    cfg = RunConfig(name="mah", model="/models/base", method="mah_dpo", objectives=["helpful", "harmless"],
                    sweep_points=3, eval_scorers={"harmless": "length_tokens"})
    run = ctx.db.call_sync(create_run, "mah", cfg.to_dict(), str(run_dir))
    ckpt = str(run_dir / "checkpoints" / "step-10")
    (run_dir / "events.jsonl").write_text(encode("checkpoint", str(run.id), step=10, path=ckpt))
    ctx.db.call_sync(ingest_events_file, run.id, run_dir / "events.jsonl")
    return ctx.db.call_sync(set_run_status, run.id, "finished", ""), ckpt


def test_steer_this_run_loads_its_checkpoint_in_an_inference_worker(qtbot, project_ctx, tmp_path):
    import sys
    from pathlib import Path

    from workbench.services.inference_client import InferenceClient
    from workbench.store.runs import add_evaluation, list_checkpoints

    ctx = project_ctx
    run, ckpt = finished_mah_run(ctx, tmp_path)
    ck_id = ctx.db.call_sync(list_checkpoints, run.id)[0].id
    for wh in (1.0, 0.5, 0.0):
        for obj, v in (("helpful", 0.5 + 0.4 * wh), ("harmless", 0.9 - 0.4 * wh)):
            ctx.db.call_sync(add_evaluation, objective=obj, metric="accuracy", value=v, run_id=run.id,
                             checkpoint_id=ck_id, weights={"helpful": wh, "harmless": 1 - wh})
    fake = Path(__file__).with_name("fake_inference_worker.py")
    specs = []

    class Recording(InferenceClient):
        def start(self, model):
            specs.append(model)
            super().start(model)

    panel = TradeoffsPanel(ctx)
    qtbot.addWidget(panel)
    panel.steering.client_factory = lambda parent: Recording(parent, command=lambda: (sys.executable, [str(fake)]))
    qtbot.waitUntil(lambda: len(panel.table.items) == 3, timeout=10_000)
    middle = next(i for i, it in enumerate(panel.table.items) if it.weights["helpful"] == 0.5)
    panel.show_details(middle)
    qtbot.waitUntil(panel.steer_button.isEnabled, timeout=5000)
    panel.steer_button.click()
    qtbot.waitUntil(lambda: bool(panel.steering.sliders), timeout=10_000)
    assert specs == [{"model": "/models/base", "adapter": ckpt}]  # the base model + the checkpoint (heads in it)
    box = panel.steering
    assert box.run_id == run.id and set(box.scorers) == {"harmless"}
    box.set_weights({"helpful": 0.5, "harmless": 0.5})
    values, at, distance = box.expected_vector()
    assert distance == pytest.approx(0.0) and values["helpful · accuracy"] == pytest.approx(0.7)
    panel.shutdown()
    assert box.own_client is None


def test_evaluate_mixtures_runs_the_worker_and_plots_the_ingested_points(qtbot, project_ctx, tmp_path):
    """A finished MAH-DPO run in a real project; the dialog's grid goes to a `worker eval` process (the fake
    speaks the protocol), whose events the supervisor ingests into the evaluations table; the panel shows them."""
    import json as _json
    import sys
    from pathlib import Path

    from workbench.services.tradeoffs import mixture_candidates, runs_with_checkpoints
    from workbench.store.runs import get_run
    from workbench.ui.dialogs.evaluate_dialog import EvaluateMixturesDialog

    ctx = project_ctx
    run, ckpt = finished_mah_run(ctx, tmp_path)
    run_dir = Path(run.run_dir)
    (run_dir / "fake.json").write_text(_json.dumps({"run": str(run.id), "mode": "eval"}))
    fake = Path(__file__).with_name("fake_worker.py")

    def fake_eval(d, checkpoint, weights):
        return sys.executable, [str(fake), "--run-dir", str(d), "--checkpoint", checkpoint,
                                "--weights-json", _json.dumps(weights)]

    ctx.supervisor.eval_command = fake_eval
    panel = TradeoffsPanel(ctx)
    qtbot.addWidget(panel)
    Path(ckpt).mkdir(parents=True)  # the heads saved with the checkpoint name the objectives to mix
    (Path(ckpt) / "heads.json").write_text(_json.dumps({"objectives": ["harmless", "helpful"], "rank": 4}))
    ctx.project_path.with_name("scorers.py").write_text("def score_words(prompt, response):\n"
                                                        "    return len(response.split())\n")
    candidates = mixture_candidates(ctx.db.call_sync(runs_with_checkpoints))
    dlg = EvaluateMixturesDialog(candidates, ["helpful", "harmless"])
    qtbot.addWidget(dlg)
    assert dlg.points.value() == 3 and dlg.ok.isEnabled() and dlg.objectives() == ["harmless", "helpful"]
    assert dlg.weights() == [{"harmless": 1.0, "helpful": 0.0}, {"harmless": 0.5, "helpful": 0.5},
                             {"harmless": 0.0, "helpful": 1.0}]
    panel.start_evaluation(*dlg.request())
    assert (run_dir / "scorers.py").is_file()  # the worker sees only its run folder
    qtbot.waitUntil(lambda: panel.eval_status.text() == "Evaluated 3 mixtures.", timeout=20_000)
    qtbot.waitUntil(lambda: len(panel.table.items) == 3, timeout=10_000)
    got = sorted((it.weights["helpful"], it.values["helpful · accuracy"], it.checkpoint_id is not None)
                 for it in panel.table.items)
    assert got == [(0.0, pytest.approx(0.5), True), (0.5, pytest.approx(0.7), True), (1.0, pytest.approx(0.9), True)]
    assert ctx.db.call_sync(get_run, run.id).status == "finished"
    assert len(panel.scatter.points()) == 3 and panel.view.mask.sum() == 3  # a straight trade-off: all optimal


def test_reward_axes_and_mixture_objectives(tmp_path):
    import json as _json

    from workbench.services.tradeoffs import mixture_objectives, reward_axes

    runs = {1: Run(1, "r", {}, "finished", "/r")}
    evs = [Evaluation(0, "zeta", "accuracy", 0.6, run_id=1), Evaluation(1, "zeta", "score", 3.0, run_id=1),
           Evaluation(2, "alpha", "margin", 0.4, run_id=1), Evaluation(3, "", "kl", 0.1, run_id=1)]
    table = build_table(evs, {"zeta": "maximize", "alpha": "maximize"}, runs, {})
    # project order (zeta first), a scorer's score over accuracy, the first metric when neither exists
    assert reward_axes(table) == ["zeta · score", "alpha · margin"]
    assert "kl" in table.axes  # a metric of no single objective is named alone
    assert mixture_objectives({"method": "soup", "soup_adapters": {"a": "/x", "b": "/y"}}, ["c"]) == ["a", "b"]
    assert mixture_objectives({"method": "mah_dpo", "objectives": []}, ["c", "d"]) == ["c", "d"]
    (tmp_path / "heads.json").write_text(_json.dumps({"objectives": ["x", "y"], "rank": 4, "hidden": 8}))
    assert mixture_objectives({"method": "mah_dpo", "objectives": ["c"]}, [], tmp_path) == ["x", "y"]  # the heads


def trained_and_evaluated(with_scores: bool):
    """What a run leaves: the trainer's held-out metrics (loss, rewards/...) per objective, and, once evaluated, the
    evaluation worker's score / accuracy / margin. "concise" is minimised by its scorer."""
    runs = {1: Run(1, "mah", {"method": "mah_dpo"}, "finished", "/tmp/r1")}
    ckpts = {10: Checkpoint(10, 1, 100, "checkpoints/step-100"), 11: Checkpoint(11, 1, 200, "checkpoints/step-200")}
    evs, n = [], 0
    for ck, (h, c) in ((10, (0.6, 0.3)), (11, (0.7, 0.2))):
        for obj, v in (("helpful", h), ("concise", c)):
            metrics = {"loss": 0.69 - v / 10, "rewards/accuracies": v, "rewards/margins": v / 2}
            if with_scores:
                metrics.update(score=v * 10, accuracy=v, margin=v / 3)
            for metric, value in metrics.items():
                evs.append(Evaluation(n, obj, metric, value, run_id=1, checkpoint_id=ck))
                n += 1
        evs.append(Evaluation(n, "", "loss", 0.6, run_id=1, checkpoint_id=ck))
        n += 1
    return build_table(evs, {"helpful": "maximize", "concise": "minimize"}, runs, ckpts)


def test_opens_on_two_objectives_rewards_and_follows_new_evaluations(qtbot, ctx):
    """Issue #13 bug 6: not loss vs loss; once evaluation scores arrive, they are the default axes; directions
    belong to the metric (accuracy and margin ↑ even for a minimised objective, its score ↓)."""
    p = TradeoffsPanel(ctx)
    qtbot.addWidget(p)
    p.set_table(trained_and_evaluated(with_scores=False))
    assert p.x_combo.currentText() == "helpful · rewards/accuracies (↑)"
    assert p.y_combo.currentText() == "concise · rewards/accuracies (↑)"
    p.set_table(trained_and_evaluated(with_scores=True))
    assert p.x_combo.currentText() == "helpful · score (↑)"
    assert p.y_combo.currentText() == "concise · score (↓)"
    dirs = p.table.directions
    assert dirs["concise · accuracy"] == dirs["concise · margin"] == dirs["concise · rewards/margins"] == "maximize"
    assert dirs["concise · loss"] == dirs["loss"] == "minimize"
    # a pick the user made survives a reload
    i = p.table.axes.index("helpful · margin")
    p.x_combo.setCurrentIndex(i)
    p.x_combo.activated.emit(i)
    p.set_table(trained_and_evaluated(with_scores=True))
    assert p.x_combo.currentText() == "helpful · margin (↑)"


def test_slider_handles_show_the_normalised_weights(qtbot, ctx):
    """Issue #13 bug 8: a handle's position is the weight its label shows (they sum to 1), for three objectives."""
    from workbench.ui.widgets.steering import SteeringBox

    class ThreeHeads:
        objectives = ["a", "b", "c"]

    box = SteeringBox(ctx)
    qtbot.addWidget(box)
    ctx.set_inference(ThreeHeads())
    box.refresh()
    positions = lambda: {k: s.value() for k, s in box.sliders.items()}  # noqa: E731
    labels = lambda: {k: float(v.text()) for k, v in box.value_labels.items()}  # noqa: E731
    assert sum(positions().values()) == 100
    box.sliders["a"].setValue(60)
    assert positions() == {"a": 60, "b": 20, "c": 20}
    assert labels() == {"a": 0.6, "b": 0.2, "c": 0.2}
    box.sliders["b"].setValue(50)  # a and c share the other 50 as 60:20
    assert positions() == {"a": 38, "b": 50, "c": 12}
    assert labels() == pytest.approx({k: v / 100 for k, v in positions().items()})
    box.set_weights({"a": 1.0, "b": 1.0, "c": 2.0})
    assert positions() == {"a": 25, "b": 25, "c": 50}
    ctx.set_inference(None)


def test_a_score_equal_everywhere_gives_way_to_accuracy():
    """The walk-through's tiny model: every mixture's score is 1.0 (Hypervolume 0, one dot); accuracy tells them
    apart, so it is the default axis."""
    from workbench.services.tradeoffs import reward_axes

    evs = []
    for i, (acc_a, acc_b) in enumerate(((1.0, 0.0), (0.56, 0.44), (0.19, 0.81))):
        w = {"a": 1 - i / 2, "b": i / 2}
        evs += [Evaluation(4 * i, "a", "score", 1.0, run_id=1, weights=w),
                Evaluation(4 * i + 1, "b", "score", 1.0, run_id=1, weights=w),
                Evaluation(4 * i + 2, "a", "accuracy", acc_a, run_id=1, weights=w),
                Evaluation(4 * i + 3, "b", "accuracy", acc_b, run_id=1, weights=w)]
    table = build_table(evs, {"a": "maximize", "b": "maximize"}, {}, {})
    assert reward_axes(table) == ["a · accuracy", "b · accuracy"]
    evs[0] = Evaluation(0, "a", "score", 0.5, run_id=1, weights={"a": 1.0, "b": 0.0})
    assert reward_axes(build_table(evs, {"a": "maximize", "b": "maximize"}, {}, {}))[0] == "a · score"


def test_gui_and_cli_give_the_same_hypervolume_for_the_same_points(tmp_path):
    """Issue 11: the GUI said 0.42 and the CLI 1.67 for the same points. Both now measure from the project's
    reference point (here the ingested base model's vector) with core.hv_reference."""
    from workbench.cli.sweep import project_hypervolume
    from workbench.core.protocol import decode, encode
    from workbench.core.run_config import RunConfig
    from workbench.services.tradeoffs import front_view
    from workbench.store.db import create_project
    from workbench.store.ingest import ingest_events
    from workbench.store.objectives import add_objective
    from workbench.store.runs import create_run
    from workbench.ui.panels.tradeoffs_panel import load_tradeoffs

    points = [({"brevity": 1.0, "detail": 0.0}, 20.0, 12.0), ({"brevity": 0.5, "detail": 0.5}, 30.0, 13.0),
              ({"brevity": 0.0, "detail": 1.0}, 35.0, 20.0), (None, 40.0, 10.0)]  # None: the base model
    project = create_project(tmp_path / "p.sqlite")
    with project.session() as s:
        add_objective(s, "brevity", direction="minimize")
        add_objective(s, "detail", direction="maximize")
        run = create_run(s, "r", {"method": "mah_dpo"}, str(tmp_path / "run"))
        ingest_events(s, run.id, [decode(encode("eval", str(run.id), step=0, checkpoint=None, weights=w,
                                                values={"brevity/score": b, "detail/score": d},
                                                **({} if w else {"base": True}))) for w, b, d in points])
        table = load_tradeoffs(s)
    axes = ["brevity · score", "detail · score"]
    dirs = [table.directions[a] for a in axes]
    gui = front_view(table.matrix(axes), dirs, axes, table.reference)
    cfg = RunConfig(eval_scorers={"brevity": "brevity", "detail": "detail"})
    cli = project_hypervolume(project, ["brevity", "detail"], cfg, ["minimize", "maximize"],
                              [[b, d] for _, b, d in points])
    project.close()
    assert gui.hypervolume == cli.value == pytest.approx(20 * 2 + 10 * 1 + 5 * 7)  # staircase above (40, 10)
    assert gui.report.text == cli.text
    assert any(it.base for it in table.items)


def test_reference_dialog_shows_the_base_model_and_stores_the_users_value(qtbot, project_ctx):
    """Issue 11: the reference point is shown with where it came from and is editable per objective axis; the
    value is stored in the project and the hypervolume follows it."""
    from workbench.core.protocol import decode, encode
    from workbench.store.hv_reference import get_reference
    from workbench.store.ingest import ingest_events
    from workbench.store.objectives import add_objective
    from workbench.store.runs import create_run

    def fill(s):
        add_objective(s, "brevity", direction="minimize")
        add_objective(s, "detail", direction="maximize")
        run = create_run(s, "r", {"method": "mah_dpo"}, "run")
        points = [({"brevity": 1.0, "detail": 0.0}, 20.0, 12.0), ({"brevity": 0.0, "detail": 1.0}, 35.0, 20.0),
                  (None, 40.0, 10.0)]
        ingest_events(s, run.id, [decode(encode("eval", str(run.id), step=0, checkpoint=None, weights=w,
                                                values={"brevity/score": b, "detail/score": d},
                                                **({} if w else {"base": True}))) for w, b, d in points])

    project_ctx.db.call_sync(fill)
    panel = TradeoffsPanel(project_ctx)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.hv_label.text() == "Hypervolume: 80", timeout=5000)  # 20·2 + 5·8 from (40, 10)
    panel.edit_reference()
    dlg = panel.reference_dialog
    assert dlg.axes == ["brevity · score", "detail · score"]
    assert [dlg.spins[a].value() for a in dlg.axes] == [40.0, 10.0] and not dlg.checks[dlg.axes[0]].isChecked()
    dlg.checks["brevity · score"].setChecked(True)
    dlg.spins["brevity · score"].setValue(50.0)
    dlg.accept()
    qtbot.waitUntil(lambda: panel.hv_label.text() == "Hypervolume: 180", timeout=5000)  # 30·2 + 15·10 - 15·2
    point = project_ctx.db.call_sync(get_reference)
    assert point.values == {"brevity · score": 50.0, "detail · score": 10.0}
    assert "brevity · score 50 (set by user)" in panel.hv_label.toolTip()


def test_evaluating_a_run_whose_model_runs_its_own_code_asks_first(qtbot, project_ctx, tmp_path, monkeypatch):
    """Found in use: Evaluate mixtures started the worker without asking, and the worker then refused the model
    ("not confirmed"). It now asks as starting a run does; a refusal starts nothing."""
    import dataclasses

    ctx = project_ctx
    run, ckpt = finished_mah_run(ctx, tmp_path)
    run = dataclasses.replace(run, config={**run.config, "trust_remote_code": True, "model": "org/custom"})
    started: list[dict] = []
    monkeypatch.setattr(ctx.supervisor, "start_eval", lambda *a, **kw: started.append(kw))
    answers: list[bool | None] = [None, True]
    asked: list[str] = []

    async def fake_ask(parent, config):
        asked.append(str(config.get("model")))
        return answers.pop(0)

    monkeypatch.setattr("workbench.ui.widgets.mixture_evaluation.ask_remote_code_async", fake_ask)
    panel = TradeoffsPanel(ctx)
    qtbot.addWidget(panel)
    weights = [{"helpful": 1.0, "harmless": 0.0}]
    panel.start_evaluation(run, ckpt, weights)
    qtbot.waitUntil(lambda: "cancelled" in panel.eval_status.text(), timeout=5_000)
    assert asked == ["org/custom"] and started == []
    panel.start_evaluation(run, ckpt, weights)
    qtbot.waitUntil(lambda: len(started) == 1, timeout=5_000)
    assert asked == ["org/custom"] * 2 and started == [{"remote_code_confirmed": True}]
    plain = dataclasses.replace(run, config={**run.config, "trust_remote_code": False})
    panel.start_evaluation(plain, ckpt, weights)  # nothing to ask: started at once, no consent passed
    assert len(asked) == 2 and started[-1] == {}
