"""The vector outcome reward model (issue #17 item 4): its loss on hand-computed numbers, per-objective gradients
of the head, and the trainer on the tiny model (in process; the real worker run is test_vector_rm_worker.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from workbench.core.run_config import RunConfig
from workbench.training.engine.data import collate
from workbench.training.reward_models.vector_rm import RM_CONFIG, RM_HEAD, RewardHead, bt_loss, pair_metrics
from workbench.training.reward_models.vector_rm_trainer import VectorRMTrainer


def test_bt_loss_equals_hand_computed_on_a_fixed_batch():
    # 3 pairs, K = 2; pair 0 and 2 on objective 0, pair 1 on objective 1
    r_c = torch.tensor([[2.0, -7.0], [9.0, 0.5], [-1.0, 3.0]])
    r_r = torch.tensor([[1.0, 5.0], [9.0, 1.5], [0.5, 8.0]])
    objective = torch.tensor([0, 1, 0])
    loss, rc, rr = bt_loss(r_c, r_r, objective)
    # differences on the pairs' own outputs: 2-1 = 1, 0.5-1.5 = -1, -1-0.5 = -1.5
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(1.0)) + math.log1p(math.exp(1.5))) / 3
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert rc.tolist() == [2.0, 0.5, -1.0] and rr.tolist() == [1.0, 1.5, 0.5]
    centred, _, _ = bt_loss(r_c, r_r, objective, center=0.01)  # TRL's center_rewards_coefficient
    sums = [(2 + 1) ** 2, (0.5 + 1.5) ** 2, (-1 + 0.5) ** 2]
    assert float(centred) == pytest.approx(expected + 0.01 * sum(sums) / 3, rel=1e-6)
    m = pair_metrics(loss, rc, rr, objective, ["a", "b"])
    assert m["accuracy"] == pytest.approx(1 / 3) and m["margin"] == pytest.approx((1 - 1 - 1.5) / 3)
    assert m["a/accuracy"] == 0.5 and m["b/accuracy"] == 0.0 and m["a/margin"] == pytest.approx(-0.25)
    assert m["min_reward"] == -1.0 and m["max_reward"] == 2.0


def test_an_objectives_pairs_move_only_its_own_head_row():
    head = RewardHead(hidden=6, n_objectives=3, seed=1)
    h = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))  # 2 pairs: rows 0,1 chosen; 2,3 rejected
    r = head(h)
    loss, _, _ = bt_loss(r[:2], r[2:], torch.tensor([2, 2]))
    loss.backward()
    grad = head.weight.grad
    assert torch.count_nonzero(grad[0]) == 0 and torch.count_nonzero(grad[1]) == 0
    # d loss / d w_2 = mean_i −σ(−Δ_i)·(h_c,i − h_r,i)
    d = (r[:2, 2] - r[2:, 2]).detach()
    manual = (-torch.sigmoid(-d)[:, None] * (h[:2] - h[2:])).mean(0)
    assert torch.allclose(grad[2], manual, atol=1e-6)


def make_trainer(model_dir: Path, data_path: Path, **overrides) -> tuple[VectorRMTrainer, list]:
    settings = dict(kind="reward_model", model=str(model_dir), device="cpu", batch_size=4, max_steps=4,
                    learning_rate=1e-2, max_length=64, max_prompt_length=32, eval_every=0, checkpoint_every=0,
                    active_candidates=0)
    settings.update(overrides)
    events: list = []
    trainer = VectorRMTrainer(RunConfig(**settings), data_path.parent, emit=lambda t, **d: events.append((t, d)))
    return trainer, events


def test_trunk_and_head_gradients_of_one_objectives_batch(tiny_model_dir, tiny_run_data):
    trainer, _ = make_trainer(tiny_model_dir, tiny_run_data)
    trainer.prepare()
    assert trainer.data.objectives == ["brevity", "detail"]
    only_detail = [i for i in trainer.train_idx if trainer.data.objective[i] == 1][:3]
    batch = collate(trainer.data, only_detail, trainer.tokenizer.pad_token_id, trainer.device)
    loss, metrics = trainer.forward_loss(batch)
    loss.backward()
    grad = trainer.head.weight.grad
    assert torch.count_nonzero(grad[0]) == 0 and float(grad[1].abs().sum()) > 0
    lora = [p.grad for n, p in trainer.model.named_parameters() if "lora_" in n and p.grad is not None]
    assert lora and any(float(g.abs().sum()) > 0 for g in lora)  # the shared trunk learns from every objective
    assert set(metrics) >= {"loss", "accuracy", "margin", "detail/accuracy", "detail/margin"}
    assert "brevity/accuracy" not in metrics
    # the loss is BT on the detail output of exactly these rows
    with torch.no_grad():
        r_c, r_r = trainer.pair_rewards(batch)
    expected = float(torch.nn.functional.softplus(-(r_c[:, 1] - r_r[:, 1])).mean())
    assert metrics["loss"] == pytest.approx(expected, rel=1e-5)


def test_training_learns_both_objectives_and_checkpoints_the_head(tiny_model_dir, tiny_run_data):
    trainer, events = make_trainer(tiny_model_dir, tiny_run_data, max_steps=12)
    trainer.prepare()
    assert trainer.run() == "finished"
    held_out = [d["values"] for t, d in events if t == "metric" and "eval/loss" in d["values"]]
    assert held_out[-1]["eval/brevity/accuracy"] == 1.0 and held_out[-1]["eval/detail/accuracy"] == 1.0
    assert not [t for t, _ in events if t == "eval"]  # no policy reward vector: not a point on the Trade-offs plot
    logs = [d["message"] for t, d in events if t == "log"]
    assert "held-out pairwise accuracy at step 12: brevity 1.000, detail 1.000" in logs
    # balanced batches: every training step sees both objectives
    steps = [d["values"] for t, d in events if t == "metric" and "brevity/accuracy" in d["values"]]
    assert len(steps) == 12 and all("detail/accuracy" in v for v in steps)
    folder = trainer.run_dir / "checkpoints" / "step-12"
    info = json.loads((folder / RM_CONFIG).read_text())
    assert info["objectives"] == ["brevity", "detail"] and info["base_model"] == str(tiny_model_dir)
    assert (folder / RM_HEAD).is_file() and (folder / "adapter_model.safetensors").is_file()
    # resuming restores the head exactly
    again, _ = make_trainer(tiny_model_dir, tiny_run_data, max_steps=12)
    again.prepare(resume=True)
    assert again.pos.step == 12 and torch.equal(again.head.weight, trainer.head.weight)
    # a new run may start from this reward model (init_adapter): adapter and head both carried over, step 0
    child, _ = make_trainer(tiny_model_dir, tiny_run_data, init_adapter=str(folder), seed=5)
    child.prepare()
    assert child.pos.step == 0 and torch.equal(child.head.weight, trainer.head.weight)
    lora = {n: p for n, p in trainer.model.named_parameters() if "lora_B" in n}
    assert all(torch.equal(p, lora[n]) for n, p in child.model.named_parameters() if "lora_B" in n)


def test_a_stop_request_during_suggestions_writes_no_file_and_bf16_scores_match(tiny_model_dir, tiny_run_data):
    from workbench.core.rm_suggestions import SUGGESTIONS_FILE
    from workbench.training.reward_models.rm_suggestions import write_suggestions

    run_dir = tiny_run_data.parent
    (run_dir / "candidates.jsonl").write_text(tiny_run_data.read_text(), encoding="utf-8")
    trainer, events = make_trainer(tiny_model_dir, tiny_run_data, max_steps=2, precision="bf16")
    trainer.prepare()
    trainer.run()
    assert write_suggestions(trainer, lambda t, **d: events.append((t, d)), lambda: True) is None
    assert not (run_dir / SUGGESTIONS_FILE).exists()
    assert events[-1] == ("log", {"level": "info",
                                  "message": "stopped before the reward model's suggestions were written"})
    assert write_suggestions(trainer, lambda *_a, **_k: None, lambda: False) == 12
    # under bf16 autocast the head still works in fp32 and scores are finite and ordered like fp32's
    seqs = [trainer.data.prompt_ids[i] + trainer.data.chosen_ids[i] for i in range(4)]
    bf16 = trainer.score_rows(seqs)
    trainer.cfg.precision = "fp32"
    fp32 = trainer.score_rows(seqs)
    assert bf16.dtype == torch.float64 and torch.isfinite(bf16).all()
    assert torch.allclose(bf16, fp32, atol=0.1)
