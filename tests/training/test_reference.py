"""Reference log-probs: adapter disabled, cached with a fingerprint, reused, invalidated when data changes."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from workbench.core.run_config import RunConfig
from workbench.training.engine import reference as reference_mod
from workbench.training.engine.data import collate, read_run_data, tokenize_pairs
from workbench.training.engine.logprobs import sequence_logps
from workbench.training.engine.lora import attach_lora
from workbench.training.engine.reference import reference_logps


@pytest.fixture()
def parts(tiny_model_dir, tiny_run_data):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = read_run_data(tiny_run_data)
    data = tokenize_pairs(rows, tok, max_length=256, max_prompt_length=128)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float64).eval()
    with torch.no_grad():
        b = collate(data, list(range(len(data))), tok.pad_token_id, "cpu")
        lp = sequence_logps(base, b).sum
    n = len(data)
    base_logps = torch.stack([lp[:n], lp[n:]], dim=1).float()
    peft = attach_lora(base, RunConfig(lora_r=4, lora_alpha=8))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)  # the policy now differs from the base model
    return tok, rows, data, peft, base_logps, tiny_run_data.parent / "ref_logps.pt"


def test_reference_is_base_model_with_adapter_disabled(parts):
    tok, _, data, peft, base_logps, cache = parts
    peft.train()
    progress: list[tuple[int, int]] = []
    ref = reference_logps(peft, data, batch_size=5, chunk_tokens=16, cache_path=cache, pad_id=tok.pad_token_id,
                          progress=lambda d, t: progress.append((d, t)))
    assert ref.shape == (24, 2)
    torch.testing.assert_close(ref, base_logps, atol=1e-4, rtol=0)
    assert progress[-1] == (24, 24) and len(progress) == 5
    assert peft.training  # mode restored
    with torch.no_grad():
        policy = sequence_logps(peft, collate(data, [0], tok.pad_token_id, "cpu")).sum
    assert abs(float(policy[0]) - float(base_logps[0, 0])) > 1e-2  # adapter is active again afterwards


def test_cache_reused_without_running_the_model(parts, monkeypatch):
    tok, _, data, peft, _, cache = parts
    first = reference_logps(peft, data, batch_size=8, chunk_tokens=64, cache_path=cache, pad_id=tok.pad_token_id)
    assert cache.exists()
    calls = {"n": 0}
    real = reference_mod.sequence_logps

    def counting(*a, **k):
        calls["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(reference_mod, "sequence_logps", counting)
    second = reference_logps(peft, data, batch_size=8, chunk_tokens=64, cache_path=cache, pad_id=tok.pad_token_id)
    assert calls["n"] == 0
    assert torch.equal(first, second)


def test_cache_invalidated_when_data_changes(parts, monkeypatch):
    tok, rows, data, peft, _, cache = parts
    reference_logps(peft, data, batch_size=8, chunk_tokens=64, cache_path=cache, pad_id=tok.pad_token_id)
    changed = tokenize_pairs(rows[:-1], tok, max_length=256, max_prompt_length=128)
    calls = {"n": 0}
    real = reference_mod.sequence_logps

    def counting(*a, **k):
        calls["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(reference_mod, "sequence_logps", counting)
    out = reference_logps(peft, changed, batch_size=8, chunk_tokens=64, cache_path=cache, pad_id=tok.pad_token_id)
    assert calls["n"] == 3 and out.shape == (23, 2)
    # a different model id also invalidates, even for identical data
    reference_logps(peft, changed, batch_size=8, chunk_tokens=64, cache_path=cache, pad_id=tok.pad_token_id,
                    model_id="other-model")
    assert calls["n"] == 6
