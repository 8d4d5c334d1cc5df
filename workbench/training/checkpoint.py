"""Checkpoints that resume exactly (DESIGN.md §3): run_dir/checkpoints/step-N/ holds the PEFT adapter
(`PeftModel.from_pretrained` loads it as it is) and trainer_state.pt with the optimizer, scheduler, grad scaler,
every RNG and the data position, so a stopped run continues with the same batches and the same numbers.
A method with its own trainable modules (MAH-DPO's heads) writes them into the same folder via `save_files`."""

from __future__ import annotations

import random
import shutil
from dataclasses import asdict, dataclass
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft import set_peft_model_state_dict
from safetensors.torch import load_file

STATE_FILE = "trainer_state.pt"


@dataclass
class Position:
    """Where training is: optimizer steps done, and the next micro-batch (epoch, index in that epoch's batches)."""

    step: int = 0
    epoch: int = 0
    batch: int = 0


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step}"


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, position: Position, *, scaler: Any = None,
                    extra: dict[str, Any] | None = None, save_files: Callable[[Path], None] | None = None) -> str:
    """Write step-N/ atomically (a temp folder renamed into place); returns its path relative to run_dir.
    `save_files(folder)` adds files next to the adapter before the rename (so they are atomic with it)."""
    final = checkpoint_dir(run_dir, position.step)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(str(tmp), safe_serialization=True)
    if save_files is not None:
        save_files(tmp)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None, "rng": rng_state(),
                "position": asdict(position), "extra": extra or {}}, tmp / STATE_FILE)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final.relative_to(run_dir).as_posix()


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step (folders without trainer_state.pt are ignored)."""
    root = Path(run_dir) / "checkpoints"
    found = [(int(p.name.split("-", 1)[1]), p) for p in root.glob("step-*")
             if p.name.split("-", 1)[1].isdigit() and (p / STATE_FILE).exists()] if root.exists() else []
    return max(found)[1] if found else None


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                    *, scaler: Any = None) -> tuple[Position, dict[str, Any]]:
    """Restore adapter weights, optimizer, scheduler, scaler and RNG in place; returns (position, extra)."""
    weights = load_file(str(Path(path) / "adapter_model.safetensors"))
    result = set_peft_model_state_dict(model, weights)
    missing = [k for k in getattr(result, "unexpected_keys", [])]
    if missing:
        raise RuntimeError(f"checkpoint {path} does not match the model ({len(missing)} unexpected weights)")
    state = torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    return Position(**state["position"]), state.get("extra", {})
