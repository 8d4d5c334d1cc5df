"""Learning-rate schedule: linear warm-up, then cosine / linear decay to 0, or constant (as in transformers'
`get_cosine_schedule_with_warmup` etc., so runs compare with TRL's defaults)."""

from __future__ import annotations

import math

import torch


def lr_factor(step: int, *, total_steps: int, warmup_steps: int, kind: str) -> float:
    """Multiplier of the peak learning rate for optimizer step `step` (0-based)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if kind == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    if kind == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_ratio: float,
                   kind: str) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR (its state_dict is just the step count, so it checkpoints and resumes exactly)."""
    warmup = int(math.ceil(warmup_ratio * total_steps))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps=total_steps, warmup_steps=warmup, kind=kind))
