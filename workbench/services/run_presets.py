"""Named starting points for the New Run dialog: a preset is a set of RunConfig overrides.

Values follow the papers' and TRL's defaults: DPO β = 0.1 and lr 5e-5 for LoRA (Rafailov et al., 2023; TRL
DPOConfig), SimPO β = 2, γ/β = 0.5 (Meng et al., 2024, §3), IPO β = 0.1 (Azar et al., 2023).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from workbench.core.run_config import RunConfig

# Loss names of LOSSES.md, in its table order (the worker rejects unknown ones; the GUI cannot import training/).
LOSS_NAMES = ("sigmoid", "cdpo", "robust", "hinge", "ipo", "exo_pair", "nca_pair", "bco_pair", "sppo_hard", "aot",
              "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm", "sft", "simpo", "orpo")

PRESETS: dict[str, dict[str, Any]] = {
    "Quick CPU test": dict(method="dpo", losses={"sigmoid": 1.0}, device="cpu", precision="fp32", max_steps=20,
                           batch_size=2, grad_accum=1, max_length=256, max_prompt_length=128, lora_r=8,
                           lora_alpha=16, learning_rate=1e-4, eval_every=10, checkpoint_every=10, warmup_ratio=0.1),
    "DPO default": dict(method="dpo", losses={"sigmoid": 1.0}, beta=0.1, learning_rate=5e-5, epochs=1.0,
                        max_steps=0, batch_size=4, grad_accum=4, lora_r=16, lora_alpha=32, scheduler="cosine"),
    "DPO + SFT (RPO)": dict(method="dpo", losses={"sigmoid": 1.0}, rpo_alpha=1.0, beta=0.1, learning_rate=5e-5),
    "IPO": dict(method="dpo", losses={"ipo": 1.0}, beta=0.1, learning_rate=5e-5),
    "SimPO (reference-free)": dict(method="dpo", losses={"simpo": 1.0}, beta=2.0, simpo_gamma=0.5,
                                   learning_rate=5e-5),
    "Weighted objectives": dict(method="weighted", losses={"sigmoid": 1.0}, beta=0.1),
    "Multi-objective MAH-DPO": dict(method="mah_dpo", losses={"sigmoid": 1.0}, beta=0.1, head_rank=16,
                                    learning_rate=5e-5, batch_size=4, grad_accum=2),
}


def apply_preset(name: str, base: RunConfig, objectives: list[str]) -> RunConfig:
    """`base` with the preset's overrides; multi-objective presets train on every objective with equal weights."""
    overrides = dict(PRESETS[name])
    if overrides.get("method") in ("weighted", "mah_dpo"):
        overrides.setdefault("objectives", list(objectives))
        overrides.setdefault("weights", {o: 1.0 for o in objectives})
    return dataclasses.replace(base, **overrides)
