"""K MAH-DPO mixtures from one trunk pass (issue #14): held-out accuracy/margins and greedy generations equal K
separate evaluations (the MixingHook set to each mixture in turn)."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import torch

from tests.training.conftest import tiny_rows
from workbench.core.run_config import RunConfig
from workbench.training.engine import logprobs
from workbench.training.engine.data import PairRow, tokenize_pairs
from workbench.training.evaluation.evaluate import generate_greedy, heldout_rewards
from workbench.training.preference.heads import MixingHook, ObjectiveHeads, output_head
from workbench.training.engine.lora import attach_lora
from workbench.training.evaluation.mixtures import generate_mixtures, heldout_rewards_mixtures, weight_matrix
from workbench.training.engine.model_loading import load_model
from workbench.training.engine.reference import reference_logps

MIXTURES = [{"brevity": 1.0}, {"detail": 1.0}, {"brevity": 0.5, "detail": 0.5}, {"brevity": 3.0, "detail": 1.0},
            {"brevity": 0.0, "detail": 0.0}]


def _steerable(model_dir, targets: list[str], head_scale: float = 0.5):
    cfg = RunConfig(model=str(model_dir), device="cpu", max_length=64, max_prompt_length=32, batch_size=5,
                    beta=0.2, target_modules=targets)
    loaded = load_model(cfg, for_training=False)
    model = attach_lora(loaded.model, cfg).eval()
    gen = torch.Generator().manual_seed(5)
    heads = ObjectiveHeads(["brevity", "detail"], output_head(model).weight.shape[1], 4, seed=1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
        heads.B.copy_(torch.randn(heads.B.shape, generator=gen) * head_scale)  # heads far apart: mixtures differ
    return cfg, model, loaded.tokenizer, heads, MixingHook(model, heads)


@pytest.mark.parametrize("targets", [["q_proj", "v_proj"], ["q_proj", "v_proj", "lm_head"]],
                         ids=["plain-head", "lora-on-head"])
def test_one_trunk_pass_equals_separate_evaluations(tiny_model_dir, targets, monkeypatch):
    cfg, model, tok, heads, hook = _steerable(tiny_model_dir, targets)
    rows = [PairRow(**dict(r, split="eval")) for r in tiny_rows()]
    data = tokenize_pairs(rows, tok, max_length=64, max_prompt_length=32)
    with hook.disabled():
        ref = reference_logps(model, data, batch_size=4, chunk_tokens=64, cache_path=None, pad_id=tok.pad_token_id)

    @contextlib.contextmanager
    def reference():  # the base model: adapter and heads off (steerable.Steerable.as_reference)
        with model.disable_adapter(), hook.disabled():
            yield

    separate = []
    for w in MIXTURES:
        total = sum(w.values())
        hook.set_weights({k: v / total for k, v in w.items()} if total else {})
        separate.append(heldout_rewards(model, data, ref, cfg, reference, pad_id=tok.pad_token_id))
    calls = {"trunk": 0}
    real = logprobs.hidden_states

    def counting(*a, **k):
        calls["trunk"] += 1
        return real(*a, **k)

    monkeypatch.setattr("workbench.training.evaluation.mixtures.hidden_states", counting)
    together = heldout_rewards_mixtures(model, heads, data, ref, MIXTURES, beta=cfg.beta, batch_size=5,
                                        chunk_tokens=16, pad_id=tok.pad_token_id, base_head=hook.disabled,
                                        reference=reference)
    assert calls["trunk"] == 5  # 24 eval pairs in batches of 5: one trunk pass per batch for all 5 mixtures
    assert len(together) == len(separate) == 5
    for one, many in zip(separate, together):
        assert one.keys() == many.keys() == {"brevity/accuracy", "brevity/margin", "detail/accuracy",
                                             "detail/margin"}
        for key in one:
            assert many[key] == pytest.approx(one[key], abs=1e-5), key
    margins = {round(v["brevity/margin"], 4) for v in separate}
    assert len(margins) == 5  # the five mixtures really are five different policies


def test_batched_generation_across_mixtures_equals_one_mixture_at_a_time(tiny_model_dir):
    cfg, model, tok, heads, hook = _steerable(tiny_model_dir, ["q_proj", "v_proj"], head_scale=20.0)
    prompts = [f"Tell me about {t}." for t in ("the sea", "Paris", "eggs")]
    together = generate_mixtures(model, tok, heads, prompts, MIXTURES[:4], max_new_tokens=8, batch_size=3,
                                 base_head=hook.disabled)
    texts = set()
    for w, got in zip(MIXTURES[:4], together):
        total = sum(w.values())
        hook.set_weights({k: v / total for k, v in w.items()})
        one = generate_greedy(model, tok, prompts, max_new_tokens=8, batch_size=3)
        assert dataclasses.astuple(got) == dataclasses.astuple(one)
        texts.add(tuple(map(tuple, one.response_ids)))
    assert len(texts) > 1  # the mixtures decode differently
    assert hook.weights["brevity"] == pytest.approx(0.75)  # the model's own mixture is untouched


def test_weight_matrix_normalises_rows():
    heads = ObjectiveHeads(["a", "b"], 8, 2)
    w = weight_matrix(heads, [{"a": 3.0, "b": 1.0}, {}, {"b": 2.0}])
    assert w.tolist() == [[0.75, 0.25], [0.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError):
        weight_matrix(heads, [{"a": -1.0}])


@pytest.mark.parametrize("model_type", ["gemma2", "cohere", "granite"])
def test_one_trunk_pass_keeps_the_models_output_processing(model_type):
    """Merge of #11 and #14: the batched mixture log-probs apply the same soft-capping / logit scale as
    sequence_logps (and so the model itself), mixture by mixture."""
    from tests.training.test_output_logits import batch, tiny
    from workbench.training.evaluation.mixtures import mixture_logps

    model, b = tiny(model_type), batch()
    heads = ObjectiveHeads(["brevity", "detail"], output_head(model).weight.shape[1], 4, seed=1).to(torch.float64)
    with torch.no_grad():
        heads.B.copy_(torch.randn(heads.B.shape, generator=torch.Generator().manual_seed(5)).double() * 0.5)
    hook = MixingHook(model, heads)
    mixtures = [{"brevity": 1.0, "detail": 0.0}, {"brevity": 0.25, "detail": 0.75}]
    with torch.no_grad():
        together = mixture_logps(model, heads, b, weight_matrix(heads, mixtures), base_head=hook.disabled,
                                 chunk_tokens=5)
        for m, w in enumerate(mixtures):
            hook.set_weights(w)
            one = logprobs.sequence_logps(model, b, chunk_tokens=5).sum
            torch.testing.assert_close(together[m].to(one.dtype), one, rtol=0, atol=1e-5)
