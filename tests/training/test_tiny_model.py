"""The tiny model loads offline through the Auto classes, is deterministic, and has a working chat template."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from workbench.training.tiny_model import build_tiny_model


def test_loads_with_auto_classes(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "llama"
    assert model.config.vocab_size == len(tok) == 512
    assert tok.eos_token == "<|endoftext|>" and tok.pad_token_id is not None
    assert (tiny_model_dir / "model.safetensors").exists()
    text = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|user|>\nHi<|endoftext|>\n<|assistant|>\n"
    ids = tok("The capital of France is Paris.")["input_ids"]
    assert tok.decode(ids) == "The capital of France is Paris."
    assert len(ids) < 15  # BPE merged the corpus words, not one token per byte


def test_deterministic_for_seed(tmp_path):
    a = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "a", seed=3))
    b = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "b", seed=3))
    c = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "c", seed=4))
    wa, wb, wc = (m.model.layers[0].self_attn.q_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb)
    assert not torch.equal(wa, wc)
