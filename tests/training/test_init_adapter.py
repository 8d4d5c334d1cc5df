"""RunConfig.init_adapter (a round continues from its parent): the fresh adapter (and MAH-DPO heads) start as the
parent checkpoint's weights, the reference stays the base model, and a mismatching adapter is a readable error."""

from __future__ import annotations

import shutil

import pytest
import torch

from tests.training.test_trainer import make_trainer, metrics
from workbench.core.errors import RunError


def _lora(t) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in t.model.named_parameters() if "lora_" in n}


@pytest.mark.parametrize("method", ["dpo", "mah_dpo"])
def test_training_continues_from_the_parent_checkpoint(tiny_model_dir, tiny_run_data, tmp_path, method):
    parent = make_trainer(tiny_model_dir, tiny_run_data, method=method, head_rank=4, max_steps=2)
    parent.prepare()
    parent.run()  # saves checkpoints/step-2
    trained = _lora(parent)
    checkpoint = tiny_run_data.parent / "checkpoints" / "step-2"
    child_dir = tmp_path / "child"
    child_dir.mkdir()
    shutil.copy(tiny_run_data, child_dir / "data.jsonl")
    events: list = []
    child = make_trainer(tiny_model_dir, child_dir / "data.jsonl", events, method=method, head_rank=4,
                         max_steps=1, init_adapter=str(checkpoint))
    child.prepare()
    start = _lora(child)
    assert start.keys() == trained.keys()
    assert all(torch.equal(start[n], trained[n]) for n in trained)
    if method == "mah_dpo":
        assert torch.equal(child.method.heads.B, parent.method.heads.B)
        assert child.method.heads.B.abs().sum() > 0
    # the reference is still the base model (lazy caches: complete both tables, then compare)
    cpu = torch.device("cpu")
    assert torch.allclose(child.ref.complete(batch_size=4, device=cpu), parent.ref.complete(batch_size=4, device=cpu))
    child.run()
    first = metrics(events, "rewards/margins")[0]
    assert abs(first) > 1e-4  # it starts where the parent ended (a fresh adapter starts at exactly 0)


def test_init_adapter_that_does_not_fit_is_a_readable_error(tiny_model_dir, tiny_run_data, tmp_path):
    parent = make_trainer(tiny_model_dir, tiny_run_data, max_steps=1, lora_r=4)
    parent.prepare()
    parent.run()
    child = make_trainer(tiny_model_dir, tiny_run_data, max_steps=1, lora_r=8,
                         init_adapter=str(tiny_run_data.parent / "checkpoints" / "step-1"))
    with pytest.raises((RunError, RuntimeError), match="size mismatch|does not fit"):
        child.prepare()
    with pytest.raises(RunError, match="not a checkpoint folder"):
        make_trainer(tiny_model_dir, tiny_run_data, init_adapter=str(tmp_path)).prepare()
