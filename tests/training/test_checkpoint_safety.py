"""Checkpoints are files people send each other (issue #12): resuming never unpickles them, a planted pickle never
runs, and the code-free format still resumes bit for bit."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.training.test_checkpoint import _run
from tests.training.test_trainer import metrics
from workbench.core.errors import RunError
from workbench.training.engine.checkpoint import LEGACY_STATE_FILE, STATE_FILE, STATE_TENSORS, latest_checkpoint, \
    read_trainer_state


class _Payload:
    """Unpickling this writes a marker file (what an attacker's checkpoint would do, with worse code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_state_files_hold_no_pickle(tiny_model_dir, tiny_run_data):
    _run(tiny_model_dir, tiny_run_data, [], max_steps=1)
    ckpt = latest_checkpoint(tiny_run_data.parent)
    names = sorted(p.name for p in ckpt.iterdir())
    assert STATE_FILE in names and STATE_TENSORS in names and LEGACY_STATE_FILE not in names
    assert not [n for n in names if n.endswith((".pt", ".bin", ".pkl"))]
    state = read_trainer_state(ckpt)
    assert state["position"] == {"step": 1, "epoch": 0, "batch": 1}
    assert state["rng"]["numpy"][0] == "MT19937" and state["rng"]["numpy"][1].dtype == np.uint32
    assert len(state["optimizer"]["state"]) > 0


def test_planted_pickle_in_an_old_checkpoint_never_runs(tiny_model_dir, tiny_run_data, tmp_path):
    _run(tiny_model_dir, tiny_run_data, [], max_steps=1)
    ckpt = latest_checkpoint(tiny_run_data.parent)
    (ckpt / STATE_FILE).unlink()
    (ckpt / STATE_TENSORS).unlink()
    marker = tmp_path / "marker.txt"
    torch.save({"position": {"step": 1, "epoch": 0, "batch": 1}, "rng": _Payload(marker)}, ckpt / LEGACY_STATE_FILE)
    assert latest_checkpoint(tiny_run_data.parent) == ckpt  # still found: the refusal must come with a message
    with pytest.raises(RunError, match="could run code hidden in it"):
        _run(tiny_model_dir, tiny_run_data, [], resume=True, max_steps=2)
    assert not marker.exists()


def test_genuine_old_checkpoint_still_resumes(tiny_model_dir, tiny_run_data):
    """A pickle of plain tensors, numbers and numpy RNG arrays (what versions before #12 wrote) loads with
    weights_only=True, so existing runs keep resuming."""
    _run(tiny_model_dir, tiny_run_data, [], max_steps=1)
    ckpt = latest_checkpoint(tiny_run_data.parent)
    state = read_trainer_state(ckpt)
    (ckpt / STATE_FILE).unlink()
    (ckpt / STATE_TENSORS).unlink()
    torch.save(state, ckpt / LEGACY_STATE_FILE)
    reason, t = _run(tiny_model_dir, tiny_run_data, [], resume=True, max_steps=2)
    assert reason == "finished" and t.pos.step == 2


def test_damaged_state_file_is_one_message(tiny_model_dir, tiny_run_data):
    _run(tiny_model_dir, tiny_run_data, [], max_steps=1)
    ckpt = latest_checkpoint(tiny_run_data.parent)
    (ckpt / STATE_TENSORS).write_bytes(b"\x00garbage")
    with pytest.raises(RunError, match="is damaged"):
        read_trainer_state(ckpt)


def test_resume_is_bit_identical(tiny_model_dir, tiny_run_data, tmp_path):
    """Exact equality (not a tolerance): every logged loss and every trained weight, and the RNG streams after."""
    settings = dict(max_steps=4, batch_size=4, grad_accum=2, warmup_ratio=0.5, scheduler="cosine",
                    learning_rate=5e-3)
    other = tmp_path / "uninterrupted"
    other.mkdir()
    shutil.copy(tiny_run_data, other / "data.jsonl")
    full: list = []
    _, t_full = _run(tiny_model_dir, other / "data.jsonl", full, **settings)
    after_full = (random.random(), float(np.random.random()), torch.rand(1).item())
    first: list = []
    _run(tiny_model_dir, tiny_run_data, first, stop_after=2, **settings)
    random.seed(os.getpid())  # scramble every RNG: the checkpoint must restore them
    np.random.seed(123)
    torch.manual_seed(456)
    second: list = []
    _, t_res = _run(tiny_model_dir, tiny_run_data, second, resume=True, **settings)
    after_resumed = (random.random(), float(np.random.random()), torch.rand(1).item())
    assert metrics(first) + metrics(second) == metrics(full)
    assert metrics(first, "grad_norm") + metrics(second, "grad_norm") == metrics(full, "grad_norm")
    a = dict(t_res.model.named_parameters())
    trained = [(n, p) for n, p in t_full.model.named_parameters() if p.requires_grad]
    assert trained and all(torch.equal(a[n], p) for n, p in trained)
    assert after_resumed == after_full
