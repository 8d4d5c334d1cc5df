"""LoRA attachment: B = 0 at init (policy == reference), default target modules per architecture."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

from workbench.core.run_config import RunConfig
from workbench.training.engine.data import PairRow, collate, tokenize_pairs
from workbench.training.engine.logprobs import sequence_logps
from workbench.training.engine.lora import attach_lora, default_target_modules


def test_default_targets_llama(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert default_target_modules(model) == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                             "down_proj"]
    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=50))
    assert default_target_modules(gpt2) == ["c_attn", "c_proj", "c_fc"]


def test_fallback_targets_every_linear_but_the_head():
    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = torch.nn.Linear(4, 4)
            self.proj = torch.nn.Linear(4, 4)
            self.head = torch.nn.Linear(4, 9)

        def get_output_embeddings(self) -> torch.nn.Module:
            return self.head

    assert default_target_modules(Tiny()) == ["inner", "proj"]


def test_init_b_zero_gives_base_logps(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    data = tokenize_pairs([PairRow(1, "o", "Tell me about Paris.", "It is Paris.", "A city.")], tok,
                          max_length=64, max_prompt_length=64)
    batch = collate(data, [0], tok.pad_token_id, "cpu")
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    with torch.no_grad():
        before = sequence_logps(base, batch).sum
    peft = attach_lora(base, RunConfig(lora_r=8, lora_alpha=16, lora_dropout=0.0, seed=3)).eval()
    lora_b = [p for n, p in peft.named_parameters() if "lora_B" in n]
    lora_a = [p for n, p in peft.named_parameters() if "lora_A" in n]
    assert len(lora_b) == 2 * 7  # 2 layers x 7 projections
    assert all((p == 0).all() for p in lora_b) and all(p.abs().sum() > 0 for p in lora_a)
    with torch.no_grad():
        after = sequence_logps(peft, batch).sum
    torch.testing.assert_close(after, before, atol=0, rtol=0)
    trainable = sum(p.numel() for p in peft.parameters() if p.requires_grad)
    per_layer = 8 * (4 * (64 + 64) + 2 * (64 + 128) + (128 + 64))
    assert trainable == 2 * per_layer


def test_seed_and_explicit_targets(tiny_model_dir):
    def a_weight(seed: int, targets: list[str]) -> tuple[torch.Tensor, list[str]]:
        m = attach_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                        RunConfig(lora_r=4, seed=seed, target_modules=targets))
        names = sorted({n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in m.named_parameters() if "lora_A" in n})
        return next(p for n, p in m.named_parameters() if "lora_A" in n).detach().clone(), names

    w1, names = a_weight(1, ["q_proj", "v_proj"])
    w1b, _ = a_weight(1, ["q_proj", "v_proj"])
    w2, _ = a_weight(2, ["q_proj", "v_proj"])
    assert names == ["q_proj", "v_proj"]
    assert torch.equal(w1, w1b) and not torch.equal(w1, w2)
