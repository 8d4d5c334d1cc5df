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


def test_a_prm_estimate_counts_step_labelled_solutions_not_pairs():
    """Found under Xvfb: New Run with kind prm on a project of 80 step-labelled solutions and no pairs estimated
    "1 step"; the run took 18 (72 training solutions at batch 4)."""
    from workbench.core.run_config import RunConfig

    prm = RunConfig(kind="prm", prm_head="classifier", batch_size=4, epochs=1, eval_fraction=0.1)
    got = estimate(prm, SMOLLM2, train_pairs=1, train_solutions=80)
    assert got.steps == 18
    implicit = estimate(RunConfig(**{**prm.to_dict(), "prm_head": "implicit"}), SMOLLM2, train_pairs=1,
                        train_solutions=80)
    assert implicit.steps == 18 and implicit.seconds > got.seconds  # plus one reference pass per solution
    policy = estimate(RunConfig(batch_size=4, epochs=1, eval_fraction=0.1), SMOLLM2, train_pairs=80)
    assert policy.steps == 18 and policy.activation_bytes == 2 * got.activation_bytes  # two sequences a pair
