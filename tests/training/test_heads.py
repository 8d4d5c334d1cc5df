"""MAH-DPO heads: the mixture of head logits is one merged head, the hook steers a real model, files round-trip."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from workbench.training.preference.heads import MixingHook, ObjectiveHeads, has_heads


def _random_heads(objectives: list[str], hidden: int = 16, rank: int = 3, seed: int = 1) -> ObjectiveHeads:
    heads = ObjectiveHeads(objectives, hidden, rank, seed=seed)
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():  # B is zero at init; give it values so every head differs from the base
        heads.B.copy_(torch.randn(heads.B.shape, generator=gen))
    return heads


def test_fresh_heads_are_the_base_head_and_leave_the_global_rng_alone():
    state = torch.get_rng_state()
    heads = ObjectiveHeads(["a", "b"], hidden=8, rank=2, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert heads.A.shape == (2, 2, 8) and heads.B.shape == (2, 8, 2)
    h = torch.randn(5, 8)
    assert torch.equal(heads.delta(h, 0), torch.zeros(5, 8)) and torch.equal(heads.delta(h, 1), torch.zeros(5, 8))
    assert heads.A.abs().max() <= 1 / 8**0.5 and heads.A.abs().min() > 0
    assert torch.equal(ObjectiveHeads(["a", "b"], 8, 2, seed=3).A, heads.A)  # deterministic per seed
    assert not torch.equal(ObjectiveHeads(["a", "b"], 8, 2, seed=4).A, heads.A)


def test_mixing_logits_equals_merged_head():
    """Σ_k w_k W(h + B_k A_k h) == W(h + Σ_k w_k B_k A_k h) for Σw = 1 (LOSSES.md: mixing costs nothing)."""
    torch.manual_seed(0)
    heads = _random_heads(["a", "b", "c"])
    W = torch.randn(40, 16)
    h = torch.randn(2, 7, 16)
    w = torch.tensor([0.2, 0.5, 0.3])
    per_head = torch.stack([(h + heads.delta(h, k)) @ W.T for k in range(3)])  # [K, 2, 7, V]
    mixed_logits = (w[:, None, None, None] * per_head).sum(0)
    merged = (h + heads.mixed_delta(h, w)) @ W.T
    torch.testing.assert_close(merged, mixed_logits, rtol=0, atol=1e-5)
    by_hand = sum(w[k] * (h @ heads.A[k].T @ heads.B[k].T) for k in range(3))
    torch.testing.assert_close(heads.mixed_delta(h, w), by_hand, rtol=0, atol=1e-5)
    assert (per_head[0] - per_head[1]).abs().max() > 1e-2  # the heads really differ


@pytest.fixture(scope="module")
def tiny_lm(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


def test_hook_one_hot_is_that_head_and_zero_is_the_base(tiny_lm):
    hidden = tiny_lm.config.hidden_size
    heads = _random_heads(["brevity", "detail"], hidden=hidden, rank=4)
    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    with torch.no_grad():
        base = tiny_lm(input_ids=ids).logits
        h = tiny_lm.model(input_ids=ids).last_hidden_state
        W = tiny_lm.get_output_embeddings().weight
        head1 = (h + heads.delta(h, 1)) @ W.T
        hook = MixingHook(tiny_lm, heads)
        try:
            hook.set_weights({"detail": 1.0})
            torch.testing.assert_close(tiny_lm(input_ids=ids).logits, head1, rtol=0, atol=1e-5)
            assert (head1 - base).abs().max() > 1e-2
            with hook.disabled():
                assert torch.equal(tiny_lm(input_ids=ids).logits, base)
            assert hook.weights == {"brevity": 0.0, "detail": 1.0}
            hook.set_weights({})
            assert torch.equal(tiny_lm(input_ids=ids).logits, base)
            with pytest.raises(ValueError, match="unknown objective"):
                hook.set_weights({"honesty": 1.0})
        finally:
            hook.remove()
        assert torch.equal(tiny_lm(input_ids=ids).logits, base)


def test_save_load_round_trip(tmp_path):
    heads = _random_heads(["x", "y"], hidden=12, rank=2)
    assert not has_heads(tmp_path)
    heads.save(tmp_path)
    assert has_heads(tmp_path)
    loaded = ObjectiveHeads.load(tmp_path)
    assert loaded.objectives == ["x", "y"] and loaded.rank == 2 and loaded.hidden == 12
    assert torch.equal(loaded.A, heads.A) and torch.equal(loaded.B, heads.B)
    h = torch.randn(3, 12)
    assert torch.equal(loaded.mixed_delta(h, torch.tensor([0.4, 0.6])), heads.mixed_delta(h, torch.tensor([0.4, 0.6])))
