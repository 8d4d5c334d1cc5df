"""Adapter soups: PEFT's `cat` combination equals Σ λ_k s_k B_k A_k exactly, on the weights and on the logits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from workbench.core.errors import RunError
from workbench.training.preference.soups import make_soup, soup_model

TARGETS = ["q_proj", "v_proj", "down_proj"]


def _base(model_dir: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float64).eval()


def _make_adapter(model_dir: Path, out: Path, *, r: int, alpha: int, seed: int) -> Path:
    """A LoRA adapter with random (non-zero) A and B, saved like a checkpoint folder."""
    torch.manual_seed(seed)
    model = get_peft_model(_base(model_dir), LoraConfig(r=r, lora_alpha=alpha, target_modules=TARGETS))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn_like(p) * 0.05)
    model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("soup_adapters")
    return {"brevity": _make_adapter(tiny_model_dir, root / "brevity", r=4, alpha=8, seed=1),
            "detail": _make_adapter(tiny_model_dir, root / "detail", r=8, alpha=4, seed=2)}


def _factors(folder: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """module name -> (A, B) read straight from the adapter file (independent of PEFT's loading code)."""
    raw = load_file(str(folder / "adapter_model.safetensors"))
    out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for key, a in raw.items():
        if key.endswith("lora_A.weight"):
            module = key[len("base_model.model."):-len(".lora_A.weight")]
            out[module] = (a.double(), raw[key.replace("lora_A", "lora_B")].double())
    return out


def _expected_deltas(adapters: dict[str, Path], weights: dict[str, float]) -> dict[str, torch.Tensor]:
    scaling = {"brevity": 8 / 4, "detail": 4 / 8}  # alpha / r of each adapter
    total: dict[str, torch.Tensor] = {}
    for obj, folder in adapters.items():
        for module, (a, b) in _factors(folder).items():
            total[module] = total.get(module, 0) + weights[obj] * scaling[obj] * (b @ a)
    return total


def _soup_deltas(model: torch.nn.Module, modules: list[str]) -> dict[str, torch.Tensor]:
    base = model.get_base_model()
    return {m: base.get_submodule(m).get_delta_weight("soup") for m in modules}


def test_cat_soup_delta_is_weighted_sum_of_products(tiny_model_dir, adapters):
    model = soup_model(_base(tiny_model_dir), {k: str(v) for k, v in adapters.items()})
    weights = {"brevity": 0.3, "detail": 0.7}
    make_soup(model, {k: str(v) for k, v in adapters.items()}, weights)
    expected = _expected_deltas(adapters, weights)
    assert len(expected) == 2 * len(TARGETS)  # 2 layers x 3 target modules
    got = _soup_deltas(model, list(expected))
    for module, delta in expected.items():
        assert delta.abs().max() > 1e-3  # the adapters really change the weights
        torch.testing.assert_close(got[module], delta, rtol=1e-10, atol=1e-12)


def test_soup_logits_equal_merged_weights_and_new_weights_replace(tiny_model_dir, adapters):
    folders = {k: str(v) for k, v in adapters.items()}
    model = soup_model(_base(tiny_model_dir), folders)
    ids = torch.tensor([[5, 17, 42, 7, 99, 3]])
    for weights in ({"brevity": 1.0, "detail": 0.0}, {"brevity": 0.25, "detail": 0.75}, {"detail": -0.5}):
        make_soup(model, folders, weights, extrapolate=-0.5 in weights.values())  # -0.5: deliberate
        full = {"brevity": 0.0, "detail": 0.0, **weights}
        merged = _base(tiny_model_dir)
        with torch.no_grad():
            for module, delta in _expected_deltas(adapters, full).items():
                merged.get_submodule(module).weight += delta
            want = merged(input_ids=ids).logits
            got = model(input_ids=ids).logits
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
    assert sorted(model.peft_config) == ["brevity", "detail", "soup"]  # replaced, not accumulated
    assert model.active_adapter == "soup"


def test_single_adapter_soup_scales_exactly(tiny_model_dir, adapters):
    folders = {"brevity": str(adapters["brevity"])}
    model = soup_model(_base(tiny_model_dir), folders)
    make_soup(model, folders, {"brevity": -2.0}, extrapolate=True)  # negative: `linear` would need √(-2)
    expected = _expected_deltas({"brevity": adapters["brevity"]}, {"brevity": -2.0})
    for module, delta in _soup_deltas(model, list(expected)).items():
        torch.testing.assert_close(delta, expected[module], rtol=1e-10, atol=1e-12)


def test_unknown_objective_and_bad_folder_are_readable_errors(tiny_model_dir, adapters, tmp_path):
    folders = {k: str(v) for k, v in adapters.items()}
    model = soup_model(_base(tiny_model_dir), folders)
    with pytest.raises(RunError, match="no soup adapter for objective.*safety"):
        make_soup(model, folders, {"safety": 1.0})
    with pytest.raises(RunError, match="could not load the adapter"):
        soup_model(_base(tiny_model_dir), {"brevity": str(tmp_path / "missing")})
