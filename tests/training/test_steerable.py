"""load_steerable: a checkpoint (adapter + heads) loads for inference, mixes heads as weighted, generates with the
mixture, and as_reference gives the base model exactly."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.preference.heads import ObjectiveHeads
from workbench.training.engine.lora import attach_lora
from workbench.training.preference.steerable import load_steerable

IDS = torch.tensor([[5, 17, 42, 99, 7, 3, 250]])


@pytest.fixture(scope="module")
def checkpoint(tiny_model_dir, tmp_path_factory):
    """A mah_dpo-shaped checkpoint folder: a LoRA adapter and two heads, all with non-zero B."""
    folder = tmp_path_factory.mktemp("steer") / "step-3"
    torch.manual_seed(3)
    model = attach_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), RunConfig(lora_r=4))
    heads = ObjectiveHeads(["brevity", "detail"], model.config.hidden_size, 4, seed=1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
        heads.B.normal_(0, 0.5)
    model.save_pretrained(str(folder))
    heads.save(folder)
    return folder, heads


def _by_hand(tiny_model_dir, folder, heads, weights):
    """Logits of W(h + Σ w_k B_k A_k h) with h from an independently loaded PeftModel body."""
    from peft import PeftModel

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(folder)).eval()
    with torch.no_grad():
        h = model.get_base_model().model(input_ids=IDS).last_hidden_state
        w = torch.tensor(weights)
        return (h + heads.mixed_delta(h, w)) @ model.get_output_embeddings().weight.T


def test_mixture_logits_and_reference(tiny_model_dir, checkpoint):
    folder, heads = checkpoint
    s = load_steerable(str(tiny_model_dir), folder, device="cpu")
    assert s.objectives == ["brevity", "detail"] and s.device.type == "cpu"
    assert s.weights == {"brevity": 0.5, "detail": 0.5}  # equal mixture until told otherwise
    assert not any(p.requires_grad for p in s.model.parameters()) and not s.model.training
    with torch.no_grad():
        even = s.model(input_ids=IDS).logits
        s.set_weights({"brevity": 1.0, "detail": 3.0})  # normalised to 0.25 / 0.75
        assert s.weights == {"brevity": 0.25, "detail": 0.75}
        mixed = s.model(input_ids=IDS).logits
        with s.as_reference():
            ref = s.model(input_ids=IDS).logits
        again = s.model(input_ids=IDS).logits
    torch.testing.assert_close(even, _by_hand(tiny_model_dir, folder, heads, [0.5, 0.5]), rtol=0, atol=1e-5)
    torch.testing.assert_close(mixed, _by_hand(tiny_model_dir, folder, heads, [0.25, 0.75]), rtol=0, atol=1e-5)
    assert torch.equal(again, mixed)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    with torch.no_grad():
        assert torch.equal(ref, base(input_ids=IDS).logits)
    assert (mixed - even).abs().max() > 1e-3 and (mixed - ref).abs().max() > 1e-3


def test_generate_uses_the_mixture(tiny_model_dir, checkpoint):
    """generate decodes with the mixed head: its first-step scores are the mixture's logits, per mixture."""
    folder, heads = checkpoint
    s = load_steerable(RunConfig(model=str(tiny_model_dir), device="cpu"), folder)
    firsts = []
    for weights in ([1.0, 0.0], [0.0, 1.0]):
        s.set_weights(dict(zip(s.objectives, weights)))
        out = s.model.generate(input_ids=IDS, attention_mask=torch.ones_like(IDS), max_new_tokens=3,
                               do_sample=False, pad_token_id=s.tokenizer.pad_token_id, output_scores=True,
                               return_dict_in_generate=True)
        expected = _by_hand(tiny_model_dir, folder, heads, weights)[0, -1]
        torch.testing.assert_close(out.scores[0][0], expected, rtol=0, atol=1e-4)
        assert out.sequences[0, IDS.shape[1]] == expected.argmax()
        firsts.append(out.scores[0][0])
    assert (firsts[0] - firsts[1]).abs().max() > 1e-2


def test_without_heads_or_checkpoint(tiny_model_dir, checkpoint, tmp_path):
    s = load_steerable(str(tiny_model_dir), None, device="cpu")
    assert s.heads is None and s.hook is None and s.objectives == [] and s.weights == {}
    s.set_weights({})  # nothing to mix: allowed
    with pytest.raises(ValueError, match="no objective heads"):
        s.set_weights({"brevity": 1.0})
    with pytest.raises(RunError, match="not a checkpoint folder"):
        load_steerable(str(tiny_model_dir), tmp_path, device="cpu")
    s2 = load_steerable(str(tiny_model_dir), checkpoint[0], device="cpu")
    with pytest.raises(ValueError, match=">= 0"):
        s2.set_weights({"brevity": -1.0, "detail": 2.0})
