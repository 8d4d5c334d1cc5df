"""Checkpoints that resume exactly (DESIGN.md §3): run_dir/checkpoints/step-N/ holds the PEFT adapter
(`PeftModel.from_pretrained` loads it as it is) and the optimizer, scheduler, grad scaler, every RNG and the data
position, so a stopped run continues with the same batches and the same numbers.
A method with its own trainable modules (MAH-DPO's heads) writes them into the same folder via `save_files`.

The trainer state is trainer_state.json + trainer_state.safetensors (state_files.py): data formats that cannot run
code, because checkpoints are files people send each other (issue #12). Checkpoints of older versions hold a pickle,
trainer_state.pt; it is read with `torch.load(weights_only=True)` (tensors, numbers and numpy's RNG arrays only),
and one that needs anything more is refused with a message instead of being unpickled."""

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

from workbench.core.errors import RunError
from workbench.training.engine.state_files import load_state, save_state

STATE_FILE = "trainer_state.json"  # its tensors are in STATE_TENSORS; both are written before the folder is renamed
STATE_TENSORS = "trainer_state.safetensors"
LEGACY_STATE_FILE = "trainer_state.pt"  # a pickle, written by versions before issue #12


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
    save_state({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None, "rng": rng_state(),
                "position": asdict(position), "extra": extra or {}}, tmp / STATE_FILE, tmp / STATE_TENSORS)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final.relative_to(run_dir).as_posix()


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step (folders without a trainer state are ignored)."""
    root = Path(run_dir) / "checkpoints"
    found = [(int(p.name.split("-", 1)[1]), p) for p in root.glob("step-*")
             if p.name.split("-", 1)[1].isdigit() and _has_state(p)] if root.exists() else []
    return max(found)[1] if found else None


def _has_state(folder: Path) -> bool:
    return ((folder / STATE_FILE).exists() and (folder / STATE_TENSORS).exists()) or (folder / LEGACY_STATE_FILE).exists()


def read_trainer_state(folder: Path) -> dict[str, Any]:
    """The trainer state of a checkpoint folder, read without running any code the files might carry."""
    folder = Path(folder)
    if (folder / STATE_FILE).exists():
        try:
            return load_state(folder / STATE_FILE, folder / STATE_TENSORS)
        except Exception as exc:  # noqa: BLE001 - any damage in a received file becomes one message
            raise RunError(f"checkpoint {folder} is damaged ({type(exc).__name__}: {exc}); resume from an earlier "
                           "checkpoint or start the run again") from None
    return _read_legacy(folder / LEGACY_STATE_FILE)


def _read_legacy(path: Path) -> dict[str, Any]:
    """An old pickle checkpoint, through torch's restricted unpickler (no code runs; numpy's RNG arrays allowed)."""
    core = getattr(np, "_core", None) or np.core  # numpy 2 renamed numpy.core
    numpy_types = [np.dtype, np.ndarray, type(np.dtype(np.uint32)), core.multiarray._reconstruct]
    try:
        with torch.serialization.safe_globals(numpy_types):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - the restricted unpickler refused something: never retry unrestricted
        raise RunError(f"checkpoint {path.parent} was written by an older version as a pickle that holds more than "
                       "plain numbers, and loading it could run code hidden in it. Resume it only with the "
                       "version that wrote it if you trust where it came from; otherwise start the run again") \
            from None


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                    *, scaler: Any = None) -> tuple[Position, dict[str, Any]]:
    """Restore adapter weights, optimizer, scheduler, scaler and RNG in place; returns (position, extra)."""
    weights = load_file(str(Path(path) / "adapter_model.safetensors"))
    result = set_peft_model_state_dict(model, weights)
    missing = [k for k in getattr(result, "unexpected_keys", [])]
    if missing:
        raise RuntimeError(f"checkpoint {path} does not match the model ({len(missing)} unexpected weights)")
    state = read_trainer_state(Path(path))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    return Position(**state["position"]), state.get("extra", {})
