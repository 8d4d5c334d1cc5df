"""Chunked completion log-probs equal the naive full-logits computation, for the base model and a PeftModel."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from workbench.core.run_config import RunConfig
from workbench.training.engine.data import collate, read_run_data, tokenize_pairs
from workbench.training.engine.logprobs import naive_sequence_logps, sequence_logps
from workbench.training.engine.lora import attach_lora


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tmp_path_factory):
    import json

    from tests.training.conftest import tiny_rows

    path = tmp_path_factory.mktemp("lp") / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in tiny_rows()), encoding="utf-8")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    data = tokenize_pairs(read_run_data(path), tok, max_length=256, max_prompt_length=128)
    batch = collate(data, [0, 1, 2, 7, 11], tok.pad_token_id, "cpu")
    # float64 so that atol=1e-5 on sums of ~200 nats tests the algorithm, not fp32 summation order
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float64).eval()
    return model, data, batch


@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
def test_chunked_equals_naive_plain_model(setup, chunk):
    model, data, batch = setup
    with torch.no_grad():
        ref = naive_sequence_logps(model, batch)
        got = sequence_logps(model, batch, chunk_tokens=chunk)
    torch.testing.assert_close(got.sum, ref.sum, atol=1e-5, rtol=0)
    idx = [0, 1, 2, 7, 11]
    expected = [len(data.chosen_ids[i]) for i in idx] + [len(data.rejected_ids[i]) for i in idx]
    assert got.count.tolist() == expected == ref.count.tolist()
    assert (got.sum < 0).all()
    assert got.sum.dtype == torch.float64


def test_fp32_model_agrees_to_float_precision(setup, tiny_model_dir):
    _, _, batch = setup
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        ref = naive_sequence_logps(model, batch)
        got = sequence_logps(model, batch, chunk_tokens=3)
    assert got.sum.dtype == torch.float32
    torch.testing.assert_close(got.sum, ref.sum, atol=1e-4, rtol=1e-6)


@pytest.mark.parametrize("chunk", [1, 13, 100_000])
def test_chunked_equals_naive_peft_model(setup, tiny_model_dir, chunk):
    _, _, batch = setup
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float64)
    peft = attach_lora(base, RunConfig(lora_r=4, lora_alpha=8)).eval()
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)  # make the adapter matter
        ref = naive_sequence_logps(peft, batch)
        got = sequence_logps(peft, batch, chunk_tokens=chunk)
        with peft.disable_adapter():
            base_lp = sequence_logps(peft, batch, chunk_tokens=chunk)
    torch.testing.assert_close(got.sum, ref.sum, atol=1e-5, rtol=0)
    assert (got.sum - base_lp.sum).abs().max() > 1e-2  # the adapter changed the log-probs


def test_gradients_match_naive(setup, tiny_model_dir):
    _, _, batch = setup
    grads = []
    for fn in (lambda m: naive_sequence_logps(m, batch), lambda m: sequence_logps(m, batch, chunk_tokens=5)):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float64).eval()
        fn(model).sum.sum().backward()
        grads.append(model.model.layers[0].self_attn.q_proj.weight.grad.clone())
    torch.testing.assert_close(grads[1], grads[0], atol=1e-5, rtol=1e-4)


def test_custom_head_and_wpo_weights(setup):
    model, _, batch = setup
    scale = 0.5
    with torch.no_grad():
        got = sequence_logps(model, batch, chunk_tokens=9, head=lambda h: model.lm_head(h) * scale, with_wpo=True)
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1] * scale
    logp = F.log_softmax(logits, -1)
    tok_lp = logp.gather(-1, batch.input_ids[:, 1:, None]).squeeze(-1)
    mask = batch.completion_mask[:, 1:].double()
    torch.testing.assert_close(got.sum, (tok_lp * mask).sum(1), atol=1e-5, rtol=0)
    lse2 = torch.logsumexp(2 * logp, -1)
    expected_logw = ((tok_lp - lse2) * mask).sum(1) / mask.sum(1)
    torch.testing.assert_close(got.wpo_logw, expected_logw, atol=1e-5, rtol=0)
