"""Turn the two common ways a run dies (out of memory, diverging loss) into one-line messages that name the
setting to change (common rules: errors say what to do)."""

from __future__ import annotations

import math

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig

_OOM_MARKERS = ("out of memory", "defaultcpuallocator: can't allocate", "can't allocate memory")


class NonFiniteLoss(RunError):
    """The loss became nan or inf."""


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA OOM (torch.OutOfMemoryError), CPU MemoryError, or an allocator RuntimeError saying it could not allocate."""
    if isinstance(exc, MemoryError):
        return True
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in _OOM_MARKERS)


def oom_message(cfg: RunConfig, step: int) -> str:
    tip = "" if cfg.gradient_checkpointing else ", or turn on gradient_checkpointing"
    return (f"Out of memory at step {step}: lower batch_size (now {cfg.batch_size}) or max_length "
            f"(now {cfg.max_length}){tip}")


def check_finite(loss: float, cfg: RunConfig, step: int) -> None:
    """Raise NonFiniteLoss with advice when the loss is nan/inf (training would only produce garbage after it)."""
    if math.isfinite(loss):
        return
    what = "nan" if math.isnan(loss) else "inf"
    tip = " or use fp32" if cfg.precision != "fp32" else ""
    raise NonFiniteLoss(f"Loss became {what} at step {step}: lower learning_rate (now {cfg.learning_rate:g}){tip}")


def failure_message(exc: BaseException, cfg: RunConfig, step: int) -> str:
    """The one-line text of ended(failed) for any exception that stopped the run."""
    if is_out_of_memory(exc):
        return oom_message(cfg, step)
    if isinstance(exc, RunError) or type(exc).__module__.startswith("workbench"):
        return str(exc)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__} at step {step}: {first}" if first else f"{type(exc).__name__} at step {step}"
