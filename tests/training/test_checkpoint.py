"""Checkpoints: the adapter folder loads with plain PEFT, and stop -> resume reproduces the uninterrupted run."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from tests.training.test_trainer import make_trainer, metrics
from workbench.training.engine.checkpoint import STATE_FILE, latest_checkpoint
from workbench.training.engine.data import collate
from workbench.training.engine.logprobs import sequence_logps


def test_saved_adapter_loads_with_peft_and_gives_same_logps(tiny_model_dir, tiny_run_data):
    t = make_trainer(tiny_model_dir, tiny_run_data, max_steps=2)
    t.prepare()
    t.run()
    ckpt = tiny_run_data.parent / "checkpoints" / "step-2"
    assert (ckpt / "adapter_model.safetensors").exists() and (ckpt / "adapter_config.json").exists()
    assert (ckpt / STATE_FILE).exists()
    batch = collate(t.data, [0, 1, 2], t.tokenizer.pad_token_id, "cpu")
    t.model.eval()
    with torch.no_grad():
        ours = sequence_logps(t.model, batch).sum
        loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), ckpt).eval()
        theirs = sequence_logps(loaded, batch).sum
        base = sequence_logps(AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), batch).sum
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
    assert (ours - base).abs().max() > 1e-3  # the adapter is not a no-op: the check above means something


def _run(model_dir, data_path, events, *, resume=False, stop_after=None, **kw):
    t = make_trainer(model_dir, data_path, events, **kw)
    if stop_after is not None:
        t.should_stop = lambda: t.pos.step >= stop_after
    t.prepare(resume=resume)
    return t.run(), t


@pytest.mark.parametrize("grad_accum", [1, 2])
def test_stop_then_resume_equals_uninterrupted(tiny_model_dir, tiny_run_data, tmp_path, grad_accum):
    """6 steps over 2+ epochs with warm-up + cosine: stop after 3, resume; every logged number matches."""
    settings = dict(max_steps=6, batch_size=4, grad_accum=grad_accum, warmup_ratio=0.3, scheduler="cosine",
                    learning_rate=5e-3)
    other = tmp_path / "uninterrupted"
    other.mkdir()
    shutil.copy(tiny_run_data, other / "data.jsonl")
    full: list = []
    reason, _ = _run(tiny_model_dir, other / "data.jsonl", full, **settings)
    assert reason == "finished"

    first: list = []
    reason, t1 = _run(tiny_model_dir, tiny_run_data, first, stop_after=3, **settings)
    assert reason == "stopped" and t1.pos.step == 3
    assert latest_checkpoint(tiny_run_data.parent).name == "step-3"
    second: list = []
    reason, t2 = _run(tiny_model_dir, tiny_run_data, second, resume=True, **settings)
    assert reason == "finished" and t2.pos.step == 6

    for key in ("loss", "learning_rate", "grad_norm", "rewards/margins", "epoch"):
        joined = metrics(first, key) + metrics(second, key)
        assert joined == pytest.approx(metrics(full, key), abs=1e-6), key
    assert metrics(full, "epoch")[-1] > 1  # the run crossed an epoch boundary
    a = dict(t2.model.named_parameters())
    for name, p in _run(tiny_model_dir, other / "data.jsonl", [], resume=True, **settings)[1].model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(a[name], p, rtol=0, atol=1e-6)


def test_resume_without_checkpoint_starts_over_with_a_warning(tiny_model_dir, tiny_run_data):
    events: list = []
    reason, t = _run(tiny_model_dir, tiny_run_data, events, resume=True, max_steps=1)
    assert reason == "finished" and t.pos.step == 1
    assert any(ty == "log" and "no checkpoint" in d["message"] for ty, d in events)


def test_incomplete_checkpoint_folder_is_ignored(tiny_model_dir, tiny_run_data):
    _run(tiny_model_dir, tiny_run_data, [], max_steps=2, checkpoint_every=1)
    broken = tiny_run_data.parent / "checkpoints" / "step-9"
    broken.mkdir()
    (broken / "adapter_config.json").write_text(json.dumps({}))
    assert latest_checkpoint(tiny_run_data.parent).name == "step-2"
