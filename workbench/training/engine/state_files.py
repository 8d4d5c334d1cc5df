"""Trainer state in files that cannot run code when read (issue #12): tensors go to a safetensors file, everything
else (numbers, strings, tuples, integer-keyed dicts, numpy arrays such as numpy's RNG state) to a JSON skeleton
whose tensor leaves name their key in the safetensors file.

A pickle (`torch.save` / `torch.load(weights_only=False)`) can execute any code when loaded, so a checkpoint
someone sends would run their code on `workbench train --resume`. Both formats here are pure data. Floats go
through JSON's shortest round-trip repr (and NaN/Infinity literals), tensors byte for byte, so a resume stays
bit-identical.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

TENSOR, TUPLE, DICT, NDARRAY = "__tensor__", "__tuple__", "__dict__", "__ndarray__"


class StateFormatError(ValueError):
    """The state files do not hold what `save_state` writes."""


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        # clone: safetensors refuses tensors that share storage, and a view must not save its whole base
        tensors[key] = value.detach().cpu().clone().contiguous()
        return {TENSOR: key}
    if isinstance(value, np.ndarray):
        return {NDARRAY: value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {TUPLE: [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v, tensors) for k, v in value.items()}
        return {DICT: [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"trainer state holds a {type(value).__name__}, which the safe state format cannot store")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if TENSOR in value:
        if value[TENSOR] not in tensors:
            raise StateFormatError(f"tensor {value[TENSOR]!r} is missing from the tensor file")
        return tensors[value[TENSOR]]
    if NDARRAY in value:
        return np.asarray(value[NDARRAY], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    if TUPLE in value:
        return tuple(_decode(v, tensors) for v in value[TUPLE])
    if DICT in value:
        return {_hashable(_decode(k, tensors)): _decode(v, tensors) for k, v in value[DICT]}
    return {k: _decode(v, tensors) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def save_state(state: dict[str, Any], json_path: Path, tensors_path: Path) -> None:
    """Write `state` as JSON (skeleton) + safetensors (every tensor)."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(state, tensors)
    save_file(tensors, str(tensors_path))
    Path(json_path).write_text(json.dumps(skeleton), encoding="utf-8")


def load_state(json_path: Path, tensors_path: Path) -> dict[str, Any]:
    """Read what `save_state` wrote; StateFormatError (or the readers' own errors) for anything else."""
    tensors = load_file(str(tensors_path))
    skeleton = json.loads(Path(json_path).read_text(encoding="utf-8"))
    state = _decode(skeleton, tensors)
    if not isinstance(state, dict):
        raise StateFormatError("the state file does not hold an object")
    return state
