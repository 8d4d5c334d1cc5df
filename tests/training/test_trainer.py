"""The training loop on the tiny model: exact first losses, accumulation = big batch, only LoRA weights move."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from workbench.core.run_config import RunConfig
from workbench.training.engine.data import collate
from workbench.training.engine.trainer import Trainer


def make_trainer(model_dir: Path, data_path: Path, events: list | None = None, **overrides) -> Trainer:
    settings = dict(model=str(model_dir), device="cpu", batch_size=4, max_steps=3, learning_rate=1e-2,
                    max_length=64, max_prompt_length=32, eval_every=0, checkpoint_every=0, warmup_ratio=0.0,
                    scheduler="constant")
    settings.update(overrides)
    sink = events if events is not None else []
    return Trainer(RunConfig(**settings), data_path.parent, emit=lambda t, **d: sink.append((t, d)))


def metrics(events: list, key: str = "loss") -> list[float]:
    return [d["values"][key] for t, d in events if t == "metric" and key in d["values"]]


@pytest.mark.parametrize(("loss", "expected"), [("sigmoid", math.log(2)), ("hinge", 1.0)])
def test_first_loss_at_zero_adapter(tiny_model_dir, tiny_run_data, loss, expected):
    events: list = []
    t = make_trainer(tiny_model_dir, tiny_run_data, events, losses={loss: 1.0}, max_steps=1)
    t.prepare()
    t.run()
    first = metrics(events)[0]
    assert first == pytest.approx(expected, abs=1e-6)
    assert metrics(events, "rewards/margins")[0] == 0.0


def _grads(t: Trainer) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in t.model.named_parameters() if p.requires_grad and p.grad is not None}


def test_accumulation_equals_one_big_batch(tiny_model_dir, tiny_run_data):
    """k micro-batches of loss/k give the gradients of one k-times larger batch (per-pair-mean loss)."""
    small = make_trainer(tiny_model_dir, tiny_run_data, batch_size=2, grad_accum=2)
    small.prepare()
    batches = small.micro_batches()
    idx = [next(batches), next(batches)]
    for ids in idx:
        loss, _ = small.forward_loss(collate(small.data, ids, small.tokenizer.pad_token_id, small.device))
        (loss / 2).backward()
    big = make_trainer(tiny_model_dir, tiny_run_data, batch_size=4)
    big.prepare()
    loss, _ = big.forward_loss(collate(big.data, idx[0] + idx[1], big.tokenizer.pad_token_id, big.device))
    loss.backward()
    g_small, g_big = _grads(small), _grads(big)
    assert g_small.keys() == g_big.keys() and len(g_small) > 0
    for name in g_small:
        torch.testing.assert_close(g_small[name], g_big[name], rtol=1e-4, atol=1e-7)
    assert any(g.abs().sum() > 0 for g in g_big.values())


def test_train_step_accumulation_matches_big_batch_update(tiny_model_dir, tiny_run_data):
    """Through the real train_step: the same data in 2x2 or 1x4 gives the same loss and the same new weights."""
    a = make_trainer(tiny_model_dir, tiny_run_data, batch_size=2, grad_accum=2, max_grad_norm=0.0)
    b = make_trainer(tiny_model_dir, tiny_run_data, batch_size=4, max_grad_norm=0.0)
    a.prepare()
    b.prepare()
    it_a = a.micro_batches()
    first = [next(it_a), next(it_a)]
    ma = a.train_step(iter(first))
    mb = b.train_step(iter([first[0] + first[1]]))
    assert ma["loss"] == pytest.approx(mb["loss"], abs=1e-6)
    assert ma["grad_norm"] == pytest.approx(mb["grad_norm"], rel=1e-4)
    # Adam's first step is ≈ lr·g/|g| per weight, so float noise in near-zero gradients shows up scaled to lr
    # (1e-2): a 1e-4 tolerance is 1% of one step, while a wrong accumulation would differ by whole steps.
    pa = dict(a.model.named_parameters())
    for name, p in b.model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(pa[name], p, rtol=0, atol=1e-4)


def test_short_run_moves_lora_only(tiny_model_dir, tiny_run_data):
    t = make_trainer(tiny_model_dir, tiny_run_data, max_steps=3)
    t.prepare()
    before = {n: p.detach().clone() for n, p in t.model.named_parameters()}
    assert t.run() == "finished"
    lora_changed = [n for n, p in t.model.named_parameters() if "lora_B" in n and not torch.equal(p, before[n])]
    base_changed = [n for n, p in t.model.named_parameters() if "lora_" not in n and not torch.equal(p, before[n])]
    assert lora_changed, "no LoRA weight moved"
    assert base_changed == []


def test_metrics_names_and_values(tiny_model_dir, tiny_run_data):
    events: list = []
    t = make_trainer(tiny_model_dir, tiny_run_data, events, method="weighted", max_steps=2, eval_every=2,
                     weights={"brevity": 3.0, "detail": 1.0})
    t.prepare()
    t.run()
    first = next(d["values"] for ty, d in events if ty == "metric")
    for key in ("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                "logps/chosen", "logps/rejected", "grad_norm", "learning_rate", "tokens_per_s", "step_time_s",
                "peak_memory_mb", "eta_s", "epoch", "brevity/rewards/margins", "detail/loss"):
        assert key in first, key
    assert first["learning_rate"] == pytest.approx(1e-2)
    assert first["epoch"] == pytest.approx(1 / t.batches_per_epoch)
    # weighted: Σ w_k L_k with normalised weights; at zero init every L_k = ln 2 -> Σ over present objectives
    present = [o for o in ("brevity", "detail") if f"{o}/loss" in first]
    w = {"brevity": 0.75, "detail": 0.25}
    assert first["loss"] == pytest.approx(sum(w[o] for o in present) * math.log(2), abs=1e-6)
    evals = [d for ty, d in events if ty == "eval"]
    assert len(evals) == 1 and evals[0]["step"] == 2
    assert set(evals[0]["values"]) >= {"loss", "brevity/rewards/accuracies", "detail/rewards/margins"}
    eval_metric = [d["values"] for ty, d in events if ty == "metric" and "eval/loss" in d["values"]]
    assert eval_metric and eval_metric[0]["eval/loss"] == pytest.approx(evals[0]["values"]["loss"])
    # the two objectives' preferences are exact opposites, so their held-out margins mirror each other
    assert evals[0]["values"]["brevity/rewards/margins"] == pytest.approx(
        -evals[0]["values"]["detail/rewards/margins"], abs=1e-5)


def test_reference_free_loss_skips_reference(tiny_model_dir, tiny_run_data):
    t = make_trainer(tiny_model_dir, tiny_run_data, losses={"simpo": 1.0}, beta=2.0, max_steps=1)
    t.prepare()
    assert t.ref is None and not (tiny_run_data.parent / "ref_logps.pt").exists()
    t.run()


def test_gradient_checkpointing_gives_same_loss(tiny_model_dir, tiny_run_data):
    a_events: list = []
    b_events: list = []
    a = make_trainer(tiny_model_dir, tiny_run_data, a_events, max_steps=2)
    b = make_trainer(tiny_model_dir, tiny_run_data, b_events, max_steps=2, gradient_checkpointing=True)
    a.prepare()
    a.run()
    b.prepare()
    b.run()
    assert metrics(a_events) == pytest.approx(metrics(b_events), abs=1e-5)


def test_bf16_autocast_runs_and_keeps_adapter_fp32(tiny_model_dir, tiny_run_data):
    events: list = []
    t = make_trainer(tiny_model_dir, tiny_run_data, events, precision="bf16", max_steps=2)
    t.prepare()
    t.run()
    assert all(p.dtype == torch.float32 for p in t.model.parameters() if p.requires_grad)
    losses = metrics(events)
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    assert losses[0] == pytest.approx(math.log(2), abs=1e-3)
