"""A round's generation records each answer's implicit reward under the round's policy (the parent run's checkpoint),
β·(log π(y|x) − log π_ref(y|x)), so the Label step can order the round's new pairs by the parent run's margin: the
numbers equal an independent full-logits computation, are all zero for the base model (round 1 writes none), and
generate_round writes them beside the texts of every line."""

from __future__ import annotations

import json

import pytest
import torch

from tests.inference.conftest import load_base, save_random_adapter
from workbench.core.run_config import RunConfig
from workbench.inference.round_samples import SAMPLES_FILE, SPEC_FILE, _sample_ids, generate_round, implicit_rewards
from workbench.training.evaluation.evaluate import _sequence_batch
from workbench.training.engine.logprobs import naive_sequence_logps

SETTINGS = {"max_new_tokens": 6, "temperature": 1.0, "top_p": 1.0, "samples": 3, "seed": 0}


def _reference_rewards(model_dir, adapter, prompt_ids, answers, beta):
    from peft import PeftModel

    base, tok = load_base(model_dir)
    batch = _sequence_batch([prompt_ids] * len(answers), answers, tok.pad_token_id, torch.device("cpu"))
    with torch.no_grad():
        ref = naive_sequence_logps(base, batch).sum.double()
        policy = naive_sequence_logps(PeftModel.from_pretrained(base, adapter).eval(), batch).sum.double()
    return (beta * (policy - ref)).tolist()


def test_implicit_rewards_of_a_trained_policy(tiny_model_dir, tmp_path):
    from workbench.training.preference.steerable import load_steerable

    adapter = save_random_adapter(tiny_model_dir, tmp_path / "ckpt", seed=4)
    cfg = RunConfig(model=str(tiny_model_dir), device="cpu", beta=0.2)
    policy = load_steerable(cfg, adapter)
    texts, prompt_ids, answers = _sample_ids(policy, "Tell me about the sea.", k=3, settings=SETTINGS, seed=5)
    assert len(texts) == len(answers) == 3 and all(answers)
    got = implicit_rewards(policy, prompt_ids, answers, cfg.beta)
    assert got == pytest.approx(_reference_rewards(tiny_model_dir, adapter, prompt_ids, answers, 0.2), abs=1e-4)
    assert max(abs(r) for r in got) > 1e-3  # the adapter changed the model: the margins carry information
    base = load_steerable(cfg, None)
    assert implicit_rewards(base, prompt_ids, answers, cfg.beta) == [0.0, 0.0, 0.0]


def test_generate_round_writes_rewards_from_round_2_on(tiny_model_dir, tmp_path):
    adapter = save_random_adapter(tiny_model_dir, tmp_path / "ckpt", seed=4)
    cfg = RunConfig(model=str(tiny_model_dir), device="cpu", beta=0.1)
    prompts = [{"id": 3, "prompt": "Tell me about the sea."}, {"id": 4, "prompt": "Tell me about trees."}]
    for folder, checkpoint in ((tmp_path / "round-1", None), (tmp_path / "round-2", str(adapter))):
        folder.mkdir()
        spec = {"round": 2, "run_config": cfg.to_dict(), "settings": SETTINGS, "sources": ["policy"],
                "prompts": prompts, "policy_checkpoint": checkpoint, "parent_checkpoint": None}
        (folder / SPEC_FILE).write_text(json.dumps(spec), encoding="utf-8")
        assert generate_round(folder, lambda *a, **k: None, lambda: False)
    first = [json.loads(x) for x in (tmp_path / "round-1" / SAMPLES_FILE).read_text().splitlines()]
    second = [json.loads(x) for x in (tmp_path / "round-2" / SAMPLES_FILE).read_text().splitlines()]
    assert all("rewards" not in line for line in first)  # the base model has no margins to give
    assert [len(line["rewards"]) for line in second] == [3, 3]
    assert len({r for line in second for r in line["rewards"]}) > 1
