"""A real `workbench worker train` run of kind reward_model on the tiny model: per-objective accuracy metrics over
the protocol, a checkpoint that VectorRM loads and scores exactly as the trainer does, and the suggestions and
active-queue margins for the unlabelled pairs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.cli.supervise import WorkerProcess
from workbench.cli.train import worker_argv
from workbench.core.rm_suggestions import SUGGESTIONS_FILE, read_suggestions
from workbench.core.run_config import RunConfig
from workbench.training.engine.data import collate
from workbench.training.preference.margins import MARGINS_FILE, read_margins

from tests.training.conftest import tiny_rows

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    monkeypatch.chdir(REPO)  # real workers run `python -m workbench` from the repository (as the app does)


def test_reward_model_worker_run_checkpoint_scores_and_suggestions(tiny_model_dir, tiny_run_data):
    run_dir = tiny_run_data.parent.with_name("0009-rm")
    tiny_run_data.parent.rename(run_dir)
    settings = dict(kind="reward_model", model=str(tiny_model_dir), device="cpu", batch_size=4, max_steps=10,
                    learning_rate=1e-2, max_length=64, max_prompt_length=32, eval_every=5, checkpoint_every=5)
    RunConfig(**settings).save(run_dir / "config.json")
    # unlabelled pairs the store would export: the same texts with A/B as in the labelled data (pair ids 101..)
    candidates = [{**r, "pair_id": 100 + r["pair_id"], "split": "candidate"} for r in tiny_rows()[:8]]
    (run_dir / "candidates.jsonl").write_text("".join(json.dumps(r) + "\n" for r in candidates), encoding="utf-8")

    worker = WorkerProcess(worker_argv(run_dir, False), run_id="9")
    msgs = [m for batch in worker.messages() for m in batch]
    assert msgs[-1].type == "ended" and msgs[-1].data["reason"] == "finished", msgs[-1]
    live = [m.data["values"] for m in msgs if m.type == "metric" and "loss" in m.data["values"]]
    assert len(live) == 10 and all({"brevity/accuracy", "detail/accuracy", "margin"} <= set(v) for v in live)
    held_out = [m.data for m in msgs if m.type == "metric" and "eval/loss" in m.data["values"]]
    assert [e["step"] for e in held_out] == [5, 10]
    final = {k[5:]: v for k, v in held_out[-1]["values"].items()}  # eval/<objective>/accuracy
    assert final["brevity/accuracy"] == 1.0 and final["detail/accuracy"] == 1.0
    assert [m.data["path"] for m in msgs if m.type == "checkpoint"] == ["checkpoints/step-5", "checkpoints/step-10"]

    from workbench.inference.reward_scoring import VectorRM
    from workbench.training.reward_models.vector_rm_trainer import VectorRMTrainer

    rm = VectorRM(run_dir / "checkpoints" / "step-10", device="cpu")
    assert rm.objectives == ["brevity", "detail"]
    trainer = VectorRMTrainer(RunConfig.load(run_dir / "config.json"), run_dir, emit=lambda *_a, **_k: None)
    trainer.prepare(resume=True)  # the trainer's own eval path on the same checkpoint
    idx = trainer.eval_idx
    with torch.no_grad():
        r_c, r_r = trainer.pair_rewards(collate(trainer.data, idx, trainer.tokenizer.pad_token_id, trainer.device))
    by_key = {(r.pair_id, r.objective): r for r in trainer.rows}
    rows = [by_key[(trainer.data.pair_id[i], trainer.data.objectives[trainer.data.objective[i]])] for i in idx]
    got_c = rm.score([r.prompt for r in rows], [r.chosen for r in rows])
    got_r = rm.score([r.prompt for r in rows], [r.rejected for r in rows], batch_size=1)
    np.testing.assert_allclose(got_c, r_c.double().numpy(), atol=1e-4)
    np.testing.assert_allclose(got_r, r_r.double().numpy(), atol=1e-4)
    # held-out accuracy from VectorRM equals the eval event's: each pair on its own objective's column
    k = np.array([trainer.data.objective[i] for i in idx])
    rows_n = np.arange(len(idx))
    for name, col in (("brevity", 0), ("detail", 1)):
        mine = k == col
        acc = float((got_c[rows_n, k] > got_r[rows_n, k])[mine].mean())
        assert acc == final[f"{name}/accuracy"]

    suggestions = read_suggestions(run_dir / SUGGESTIONS_FILE)
    assert sorted(suggestions) == [101, 102, 103, 104]
    for row in candidates:  # response A is the labelled chosen one: a trained RM suggests A on every objective
        s = suggestions[row["pair_id"]][row["objective"]]
        assert s.choice == "a" and s.p_a > 0.9
        expected = rm.score([row["prompt"]] * 2, [row["chosen"], row["rejected"]])[:, rm.objectives.index(
            row["objective"])]
        assert (s.r_a, s.r_b) == pytest.approx(tuple(expected), abs=1e-4)
    margins = read_margins(run_dir / MARGINS_FILE)  # the active order's file, as a policy run writes it
    assert sorted(margins) == [101, 102, 103, 104]
    for pid, per in suggestions.items():
        assert margins[pid] == pytest.approx(min(abs(s.r_a - s.r_b) for s in per.values()))
