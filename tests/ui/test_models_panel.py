"""Models panel + InferenceClient against a fake inference worker process (real models: the inference tests).

Checks: models are registered in the store with their info; load → loaded and published as ctx.inference; streamed
tokens are appended in order; Stop cancels a long generation; an unavailable worker is reported in words;
Generate candidates stores N responses with their settings and pairs them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from workbench.services.inference_client import InferenceClient
from workbench.ui.panels.models_panel import ModelsPanel, candidate_settings

FAKE = Path(__file__).with_name("fake_generation_worker.py")


def fake_client(parent=None) -> InferenceClient:
    return InferenceClient(parent, command=lambda: (sys.executable, [str(FAKE)]))


@pytest.fixture
def model_dir(tmp_path) -> Path:
    d = tmp_path / "tiny-llama"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
                                               "num_hidden_layers": 2, "vocab_size": 512}))
    return d


@pytest.fixture
def panel(qtbot, project_ctx, model_dir):
    p = ModelsPanel(project_ctx, client_factory=fake_client)
    qtbot.addWidget(p)
    p.source.setCurrentIndex(p.source.findData("local"))
    p.location.setText(str(model_dir))
    p.add_model()
    qtbot.waitUntil(lambda: p.list.count() == 1, timeout=5000)
    yield p
    p.shutdown()


def test_add_model_stores_it_and_shows_its_config(panel, project_ctx, model_dir):
    from workbench.store.models import list_models

    stored = project_ctx.db.call_sync(list_models)
    assert [(m.name, m.source, m.location) for m in stored] == [("tiny-llama", "local", str(model_dir))]
    text = panel.info.text()
    assert "LlamaForCausalLM" in text and "64" in text and "512" in text


def test_bad_locations_are_refused_with_a_message(panel, tmp_path):
    from workbench.ui.errors import shown_errors

    panel.source.setCurrentIndex(panel.source.findData("gguf"))
    panel.location.setText(str(tmp_path / "missing.gguf"))
    panel.add_model()
    assert shown_errors()[-1][1].endswith("is not a .gguf file.")
    panel.source.setCurrentIndex(panel.source.findData("hub"))
    panel.location.setText("not a hub id")
    panel.add_model()
    assert "does not look like a hub id" in shown_errors()[-1][1]


def test_load_stream_and_stop(qtbot, panel, project_ctx):
    panel.list.setCurrentRow(0)
    panel.load_selected()
    qtbot.waitUntil(lambda: project_ctx.inference is panel.client and panel.client is not None, timeout=10000)
    assert panel.status.text().startswith("Loaded tiny-llama in the inference worker (1,234 parameters")
    panel.prompt.setPlainText("hello there")
    panel.temperature.setValue(0.5)
    panel.seed.setValue(7)
    panel.generate()
    qtbot.waitUntil(lambda: panel.request is None, timeout=10000)
    assert panel.output.toPlainText() == "reply to hello there T=0.5 seed=7 "
    panel.prompt.setPlainText("slow please")
    panel.generate()
    qtbot.waitUntil(lambda: len(panel.output.toPlainText().split()) >= 5, timeout=10000)
    panel.stop()
    qtbot.wait(300)
    words = panel.output.toPlainText().split()
    assert 5 <= len(words) < 500  # the worker stopped streaming after the cancel
    assert panel.generate_button.isEnabled()


def test_unavailable_worker_is_reported(qtbot, panel, project_ctx, monkeypatch):
    monkeypatch.setenv("FAKE_INFER_UNAVAILABLE", "1")
    panel.list.setCurrentRow(0)
    panel.load_selected()
    qtbot.waitUntil(lambda: panel.client is None, timeout=10000)
    assert "unavailable: no inference backend in this build" in panel.status.text()
    assert project_ctx.inference is None and not panel.generate_button.isEnabled()


def test_worker_that_cannot_start_is_reported(qtbot, panel):
    panel.client_factory = lambda parent=None: InferenceClient(parent, command=lambda: ("/nonexistent/python", []))
    panel.list.setCurrentRow(0)
    panel.load_selected()
    qtbot.waitUntil(lambda: panel.client is None, timeout=10000)
    assert "could not be started" in panel.status.text()


def test_generate_candidates_stores_responses_with_settings_and_pairs(qtbot, panel, project_ctx):
    from workbench.store.pairs import pair_view

    panel.list.setCurrentRow(0)
    panel.load_selected()
    qtbot.waitUntil(lambda: project_ctx.inference is not None, timeout=10000)
    panel.prompt.setPlainText("first prompt\nsecond prompt")
    panel.n_candidates.setValue(4)
    panel.temperature.setValue(1.0)
    panel.seed.setValue(10)
    panel.generate_candidates()
    qtbot.waitUntil(lambda: len(panel.pairs_created) == 4, timeout=10000)
    views = [project_ctx.db.call_sync(pair_view, pid) for pid in panel.pairs_created]
    expected = candidate_settings(4, 1.0, 10, 0.95, 128)
    for view in views:
        for resp in (view.response_a, view.response_b):
            assert resp.model == panel.loaded_model.location
            assert resp.generation in expected
            assert resp.text.endswith(f"T={resp.generation['temperature']} seed={resp.generation['seed']}")
    assert sorted(v.prompt.text for v in views) == ["first prompt"] * 2 + ["second prompt"] * 2
    seeds = sorted(r.generation["seed"] for v in views if v.prompt.text == "first prompt"
                   for r in (v.response_a, v.response_b))
    assert seeds == [10, 11, 12, 13]
    # Issue #13 bug 5: once every response is stored, the buttons are free again
    assert panel.generate_button.isEnabled() and panel.candidates_button.isEnabled()
    assert not panel.stop_button.isEnabled()


def test_candidate_settings_spread_temperatures():
    got = candidate_settings(3, 1.0, 5, 0.9, 64)
    assert [g["temperature"] for g in got] == [0.5, 1.0, 1.5]
    assert [g["seed"] for g in got] == [5, 6, 7]


def test_guided_generation_shows_each_step_with_its_score(qtbot, panel, project_ctx, tmp_path):
    from workbench.ui.errors import shown_errors
    from workbench.ui.widgets.step_scores_view import score_color

    panel.list.setCurrentRow(0)
    panel.load_selected()
    qtbot.waitUntil(lambda: project_ctx.inference is panel.client and panel.client is not None, timeout=10000)
    panel.prompt.setPlainText("Tom has 3 boxes with 4 apples each.")
    panel.guidance.set_mode("prm_steps")
    panel.generate()  # no checkpoint chosen yet: refused in words, nothing sent
    assert panel.request is None and "Choose the process reward model" in shown_errors()[-1][1]
    panel.guidance.checkpoint.setText(str(tmp_path))
    panel.guidance.candidates.setValue(2)
    panel.generate()
    assert not panel.step_scores.isHidden()
    qtbot.waitUntil(lambda: panel.request is None, timeout=10000)
    assert panel.output.toPlainText() == "Step 1: 3 * 4 = 12.\nThe answer is 12.\n"
    view = panel.step_scores
    assert view.steps() == [("0.900", "Step 1: 3 * 4 = 12."), ("0.200", "The answer is 12.")]
    first, second = view.tree.topLevelItem(0), view.tree.topLevelItem(1)
    assert first.background(1).color() == score_color(0.9) and second.background(1).color() == score_color(0.2)
    assert first.childCount() == 2 and first.child(1).font(2).bold() and not first.child(0).font(2).bold()
    assert [first.child(i).text(1) for i in range(2)] == ["0.050", "0.900"]
    assert "2 steps, each the best of 2 candidates" in view.summary.text() and "lowest 0.200" in view.summary.text()
    # what the panel asked the worker for
    assert panel.guidance.guide() == {"mode": "prm_steps", "checkpoint": str(tmp_path), "k": 2, "max_steps": 20}
    assert "Guided generation done: 40 tokens" in panel.status.text()
    box = panel.guidance
    box.set_mode("best_of_n")
    assert box.guide() == {"mode": "best_of_n", "checkpoint": str(tmp_path), "n": 2}
    assert box._form.labelForField(box.candidates).text() == "Samples (N)" and not box.max_steps.isEnabled()
    box.set_mode("")
    assert box.guide() is None and not box.checkpoint.isEnabled()


def test_score_colours_run_from_red_through_amber_to_green():
    from workbench.ui.widgets.step_scores_view import BAD, GOOD, MID, score_color

    assert score_color(0.0) == BAD and score_color(0.5) == MID and score_color(1.0) == GOOD
    assert score_color(2.0) == GOOD and score_color(None).name() == "#9e9e9e"
    mid = score_color(0.75)
    assert (mid.red(), mid.green(), mid.blue()) == (round((MID.red() + GOOD.red()) / 2),
                                                    round((MID.green() + GOOD.green()) / 2),
                                                    round((MID.blue() + GOOD.blue()) / 2))


def test_the_loaded_line_reads_as_words_not_a_dict():
    """Found under Xvfb: "Loaded tiny test model in the inference worker (parameters: 115008, vocab_size: 512, ...,
    memory: 460096, adapter: , chat_template: True)"."""
    from workbench.ui.widgets.model_facts import loaded_text

    data = {"parameters": 115008, "vocab_size": 512, "context_length": 512, "dtype": "float32", "device": "cpu",
            "architecture": "LlamaForCausalLM", "source": "folder", "path": "/tmp/tiny", "model": "/tmp/tiny",
            "base_parameters": 115008, "memory": 460096, "objectives": [], "weights": {}, "adapter": "",
            "chat_template": True}
    assert loaded_text("tiny test model", data) == ("Loaded tiny test model in the inference worker (115,008 parameters, "
                                                    "float32 on cpu, 0.4 MiB, context 512 tokens).")
    mah = {**data, "parameters": 1_711_000_000, "memory": 3 * 2**30, "dtype": "bfloat16", "device": "cuda",
           "adapter": "runs/0002-mah/checkpoints/step-40", "objectives": ["helpful", "brief"], "chat_template": False}
    assert loaded_text("SmolLM2", mah) == (
        "Loaded SmolLM2 in the inference worker (1.71 B parameters, bfloat16 on cuda, 3.00 GiB, context 512 tokens). "
        "Adapter: runs/0002-mah/checkpoints/step-40. Objectives: helpful, brief. No chat template: prompts are sent "
        "as plain text.")


def test_a_guide_offers_the_projects_latest_prm_or_reward_model_checkpoint(qtbot, panel, project_ctx, tmp_path):
    """Found under Xvfb: after training a PRM, PRM step search opened with an empty Checkpoint field (Browse… to
    runs/…/checkpoints/step-N by hand). The newest run of the guide's kind now fills it in; a typed path stays."""
    from workbench.store.runs import create_run
    from workbench.store.schema import CheckpointRow

    def runs(s):
        for name, kind, step in (("prm-old", "prm", 10), ("rm", "reward_model", 40), ("prm-new", "prm", 18),
                                 ("policy", "policy", 5)):
            run = create_run(s, name, {"kind": kind}, str(tmp_path / name))
            s.add(CheckpointRow(run_id=run.id, step=step, path=f"checkpoints/step-{step}"))
            if step == 18:
                s.add(CheckpointRow(run_id=run.id, step=9, path="checkpoints/step-9"))

    project_ctx.db.call_sync(runs)
    project_ctx.notify("runs")
    box = panel.guidance
    qtbot.waitUntil(lambda: len(box.choices.get("prm_steps", [])) == 2, timeout=5000)
    box.set_mode("prm_steps")
    assert box.checkpoint.text() == str(tmp_path / "prm-new" / "checkpoints" / "step-18")  # newest run, last step
    assert "in this project: prm-new (step 18), prm-old (step 10)" in box.checkpoint.toolTip()
    box.set_mode("best_of_n")  # what the box filled in follows the guide
    assert box.checkpoint.text() == str(tmp_path / "rm" / "checkpoints" / "step-40")
    box.checkpoint.setText("/my/own/prm")
    box.set_mode("prm_steps")  # what the person typed stays
    assert box.checkpoint.text() == "/my/own/prm"
