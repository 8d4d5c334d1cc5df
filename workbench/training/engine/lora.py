"""LoRA adapters (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", arXiv:2106.09685).

B is initialised to 0, so at step 0 the policy equals the reference (the base model): DPO's log-ratios start at 0.
"""

from __future__ import annotations

import torch
from pathlib import Path

from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
from safetensors.torch import load_file

from workbench.core.errors import RunError

from workbench.core.run_config import RunConfig

_PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TARGETS_BY_TYPE: dict[str, list[str]] = {
    "llama": _PROJ, "mistral": _PROJ, "qwen2": _PROJ, "qwen3": _PROJ, "smollm3": _PROJ, "gemma": _PROJ,
    "gemma2": _PROJ, "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
}


def default_target_modules(model: torch.nn.Module) -> list[str]:
    """The usual attention + MLP projections for the architecture; fallback: every Linear except the head."""
    model_type = getattr(getattr(model, "config", None), "model_type", "")
    if model_type in TARGETS_BY_TYPE:
        return list(TARGETS_BY_TYPE[model_type])
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = {name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
             if isinstance(mod, torch.nn.Linear) and mod is not head}
    return sorted(names)


def attach_lora(model: torch.nn.Module, cfg: RunConfig) -> PeftModel:
    """Wrap `model` in a PeftModel with a fresh LoRA adapter (B = 0; A seeded from cfg.seed)."""
    targets = list(cfg.target_modules) or default_target_modules(model)
    config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                        target_modules=targets, bias="none", task_type="CAUSAL_LM", init_lora_weights=True)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(cfg.seed)
        return get_peft_model(model, config)
    finally:
        torch.random.set_rng_state(state)


def load_initial_adapter(model: PeftModel, folder: str | Path) -> None:
    """Copy a checkpoint's adapter weights into the fresh adapter (a round continues from its parent's adapter).
    The LoRA shape must match: rounds copy the parent's run settings, so rank and target modules are the same."""
    path = Path(folder) / "adapter_model.safetensors"
    if not path.is_file():
        raise RunError(f"{folder} is not a checkpoint folder (no adapter_model.safetensors): choose a run's "
                       "checkpoints/step-N folder to start from")
    result = set_peft_model_state_dict(model, load_file(str(path)))
    unexpected = list(getattr(result, "unexpected_keys", []))
    if unexpected:
        raise RunError(f"the adapter in {folder} does not fit this model ({len(unexpected)} weights do not match): "
                       "start from a checkpoint trained with the same model, LoRA rank and target modules")
