"""Reward models trained by the worker beside the preference methods (DESIGN.md §7): the process reward model
(`kind = "prm"`, step labels) and the vector outcome reward model (`kind = "reward_model"`, one Bradley-Terry
output per objective on the pair labels).

Each kind's trainer has the policy Trainer's shape — `Cls(cfg, run_dir, emit=..., should_stop=...)`, then
`prepare(resume=...)`, `run() -> "finished" | "stopped"`, and `pos.step` — so the worker, the events, the runs
table and the live plots treat every run alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.core.run_config import RunConfig

TRAINERS = {
    "prm": "workbench.training.reward_models.prm_trainer:PRMTrainer",
    "reward_model": "workbench.training.reward_models.vector_rm_trainer:VectorRMTrainer",
}


def make_reward_trainer(cfg: RunConfig, run_dir: str | Path, *, emit: Callable[..., Any],
                        should_stop: Callable[[], bool]) -> Any:
    module, _, name = TRAINERS[cfg.kind].partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls(cfg, Path(run_dir), emit=emit, should_stop=should_stop)
