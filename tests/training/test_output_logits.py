"""Issue 11, item 6: chunked log-probs equal log_softmax(model(...).logits) for every architecture the project
lists as supported (training.lora.TARGETS_BY_TYPE), including output processing after the head (Gemma 2's
final_logit_softcapping, Cohere's logit_scale, Granite's logits_scaling); unknown processing is refused."""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from workbench.core.errors import RunError
from workbench.training.engine.data import Batch
from workbench.training.engine.logprobs import naive_sequence_logps, sequence_logps
from workbench.training.engine.lora import TARGETS_BY_TYPE
from workbench.training.engine.output_logits import logit_transform

VOCAB = 96
SMALL = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, head_dim=8, max_position_embeddings=64, tie_word_embeddings=False,
             pad_token_id=0, bos_token_id=1, eos_token_id=2)
GPT2 = dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64)
EXTRA = {"gemma2": dict(final_logit_softcapping=2.0), "cohere": dict(logit_scale=0.5),
         "granite": dict(logits_scaling=4.0)}


def tiny(model_type: str) -> torch.nn.Module:
    kw = GPT2 if model_type == "gpt2" else {**SMALL, **EXTRA.get(model_type, {})}
    config = AutoConfig.for_model(model_type, **kw)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).to(torch.float64).eval()
    with torch.no_grad():  # a head with large logits, so soft-capping and scales change the numbers a lot
        model.get_output_embeddings().weight.mul_(60.0)
    return model


def batch() -> Batch:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, VOCAB, (4, 12), generator=g)
    attn = torch.ones_like(ids)
    attn[1, 9:] = 0  # a right-padded row
    comp = torch.zeros_like(ids)
    comp[:, 5:] = 1
    comp[1, 9:] = 0
    return Batch(ids, attn, comp, torch.zeros(2, dtype=torch.long), torch.arange(2))


@pytest.mark.parametrize("model_type", sorted(set(TARGETS_BY_TYPE) | set(EXTRA)))
def test_chunked_logps_equal_the_models_own(model_type):
    model, b = tiny(model_type), batch()
    with torch.no_grad():
        own = naive_sequence_logps(model, b).sum  # log_softmax(model(...).logits)
        for chunk in (3, 1024):
            torch.testing.assert_close(sequence_logps(model, b, chunk_tokens=chunk).sum, own, rtol=0, atol=1e-5)
        if model_type in EXTRA:  # without the transform (the code before issue 11) the numbers are far off
            with mock.patch("workbench.training.engine.logprobs.logit_transform", return_value=None):
                raw = sequence_logps(model, b).sum
            assert (raw - own).abs().max() > 1.0


def test_unknown_logit_processing_is_refused_with_a_message():
    config = AutoConfig.for_model("llama", **SMALL)
    config.logit_temperature = 0.7  # a made-up post-head transform
    with pytest.raises(RunError, match=r"processes its output logits \(logit_temperature\).*supported architecture"):
        logit_transform(config)
    assert logit_transform(AutoConfig.for_model("llama", **SMALL)) is None
