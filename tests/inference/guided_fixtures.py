"""Scorer checkpoints for the guided-decoding tests, in the folder layouts their loaders read: a PRM checkpoint
(prm_scoring.PRMScorer: adapter + prm_head.safetensors + prm.json) and a vector reward model checkpoint
(reward_scoring.VectorRM: adapter + rm_head.safetensors + rm.json), both on the tiny model with random weights
far from zero (so their scores differ between texts)."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.inference.conftest import save_random_adapter
from workbench.core.run_config import RunConfig


def make_prm_checkpoint(model_dir: Path, folder: Path, *, separator: str = "\n", seed: int = 21) -> Path:
    from workbench.training.reward_models.prm_model import PRMHead, prm_meta, save_prm_files

    save_random_adapter(model_dir, folder, seed=seed)
    head = PRMHead(64)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=gen) * 0.5)
        head.bias.zero_()
    save_prm_files(folder, head, prm_meta(RunConfig(kind="prm", model=str(model_dir), step_separator=separator)))
    return folder


def make_rm_checkpoint(model_dir: Path, folder: Path, objectives: list[str], *, seed: int = 4) -> Path:
    from workbench.training.reward_models.vector_rm import RewardHead, RMInfo, save_head

    save_random_adapter(model_dir, folder, seed=seed)
    head = RewardHead(64, len(objectives), seed=3)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=torch.Generator().manual_seed(seed + 5)))
    save_head(folder, head, RMInfo(list(objectives), str(model_dir), 64, 256, 128))
    return folder
