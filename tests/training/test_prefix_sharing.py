"""Prefix sharing (issue #14): one prompt copy per pair gives the plain path's log-probs and gradients to 1e-5."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.training.conftest import tiny_rows
from workbench.core.run_config import RunConfig
from workbench.training.engine.data import PairRow, collate, tokenize_pairs
from workbench.training.engine.logprobs import sequence_logps
from workbench.training.engine.lora import attach_lora
from workbench.training.engine.prefix_sharing import pack_pairs


@pytest.fixture()
def policy(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = [PairRow(**r) for r in tiny_rows()]
    rows[3] = PairRow(**dict(tiny_rows()[3], prompt="A much longer prompt " * 4 + "about eggs."))  # lengths vary
    data = tokenize_pairs(rows, tok, max_length=96, max_prompt_length=64)
    model = attach_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32),
                        RunConfig(lora_r=4, lora_alpha=8))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return tok, data, model


def _grads(model) -> dict[str, torch.Tensor]:
    out = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return out


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_shared_prompt_equals_plain_path(policy, attn):
    tok, data, model = policy
    model.base_model.model.config._attn_implementation = attn
    for idx in ([0, 1, 2, 3, 4], [3, 10, 17], [8]):
        batch = collate(data, idx, tok.pad_token_id)
        plain = sequence_logps(model, batch, chunk_tokens=7, with_wpo=True)
        plain.sum.sum().backward()
        g_plain = _grads(model)
        shared = sequence_logps(model, batch, chunk_tokens=7, with_wpo=True, share_prompt=True)
        shared.sum.sum().backward()
        g_shared = _grads(model)
        torch.testing.assert_close(shared.sum, plain.sum, rtol=0, atol=1e-5)
        torch.testing.assert_close(shared.wpo_logw, plain.wpo_logw, rtol=0, atol=1e-5)
        assert torch.equal(shared.count, plain.count)
        assert g_plain.keys() == g_shared.keys() and len(g_plain) > 0
        for name in g_plain:
            torch.testing.assert_close(g_shared[name], g_plain[name], rtol=1e-4, atol=1e-6)


def test_packed_rows_hold_each_prompt_once(policy):
    tok, data, _ = policy
    idx = [0, 3]
    batch = collate(data, idx, tok.pad_token_id)
    packed, pos, allowed, _, _ = pack_pairs(batch)
    for row, i in enumerate(idx):
        p, c, r = data.prompt_ids[i], data.chosen_ids[i], data.rejected_ids[i]
        n = len(p) + len(c) + len(r)
        assert packed[row, :n].tolist() == p + c + r
        assert pos[row, :n].tolist() == list(range(len(p) + len(c))) + list(range(len(p), len(p) + len(r)))
        first_rejected = len(p) + len(c)
        sees = allowed[row, 0, first_rejected, :n]
        assert sees[:len(p)].all() and not sees[len(p):first_rejected].any() and sees[first_rejected]
    assert packed.shape[1] < batch.input_ids.shape[1] * 2
