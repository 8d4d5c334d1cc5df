"""Issue 11, item 2: the New Run dialog's estimate counts what MAH-DPO heads cost (services.estimates)."""

from __future__ import annotations

from workbench.core.run_config import RunConfig
from workbench.services.estimates import ModelShape, estimate

SMOLLM2 = ModelShape(hidden=576, layers=30, vocab=49152, intermediate=1536, kv_hidden=192)


def test_full_heads_cost_a_head_copy_per_objective_and_low_rank_heads_2rH():
    base = dict(method="mah_dpo", objectives=["brevity", "detail"], lora_r=8, head_rank=8)
    plain = estimate(RunConfig(**{**base, "method": "dpo"}), SMOLLM2, train_pairs=100)
    low = estimate(RunConfig(**base), SMOLLM2, train_pairs=100)
    full = estimate(RunConfig(**base, head_type="full"), SMOLLM2, train_pairs=100)
    assert low.lora_parameters - plain.lora_parameters == 2 * (2 * 8 * 576)  # A [r, H] + B [H, r] per objective
    assert full.lora_parameters - plain.lora_parameters == 2 * 49152 * 576  # 28.3 M per objective
    assert full.lora_bytes - plain.lora_bytes == 2 * 49152 * 576 * 16  # weight, grad, AdamW m and v in fp32
