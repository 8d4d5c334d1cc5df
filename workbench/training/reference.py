"""Cached reference log-probs (DESIGN.md §5): the base model = the policy with its adapter disabled.

Computing them once before training makes a step cost one policy forward+backward instead of two forwards; the
cache (run_dir/ref_logps.pt) is reused on resume when its fingerprint (data hash + model id) matches.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from workbench.training.data import TokenizedData, collate
from workbench.training.logprobs import sequence_logps


def data_fingerprint(data: TokenizedData, model_id: str) -> str:
    """sha256 over every token id list, the objective indices and the model id."""
    h = hashlib.sha256(model_id.encode())
    h.update(json.dumps([data.prompt_ids, data.chosen_ids, data.rejected_ids, data.objective]).encode())
    return h.hexdigest()


def _model_id(model: torch.nn.Module) -> str:
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    return str(getattr(getattr(lm, "config", None), "_name_or_path", "")) or type(lm).__name__


def reference_logps(model: torch.nn.Module, data: TokenizedData, *, batch_size: int, chunk_tokens: int,
                    cache_path: str | Path | None, progress: Callable[[int, int], None] | None = None,
                    pad_id: int = 0, model_id: str | None = None) -> Tensor:
    """[N, 2] (chosen, rejected) summed log-probs under the reference, from cache when the fingerprint matches."""
    fp = data_fingerprint(data, model_id or _model_id(model))
    path = Path(cache_path) if cache_path else None
    if path is not None and path.exists():
        cached = torch.load(path, map_location="cpu", weights_only=True)
        if cached.get("fingerprint") == fp and cached["logps"].shape == (len(data), 2):
            if progress:
                progress(len(data), len(data))
            return cached["logps"]
    out = _compute(model, data, batch_size, chunk_tokens, pad_id, progress)
    if path is not None:
        tmp = path.with_suffix(".tmp")
        torch.save({"fingerprint": fp, "logps": out}, tmp)
        tmp.replace(path)
    return out


def _compute(model: torch.nn.Module, data: TokenizedData, batch_size: int, chunk_tokens: int, pad_id: int,
             progress: Callable[[int, int], None] | None) -> Tensor:
    device = next(model.parameters()).device
    out = torch.zeros(len(data), 2, dtype=torch.float32)
    disable = model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()
    was_training = model.training
    model.eval()
    try:
        with disable, torch.no_grad():
            order = sorted(range(len(data)), key=data.length)
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                lp = sequence_logps(model, collate(data, idx, pad_id, device), chunk_tokens=chunk_tokens).sum
                out[idx, 0] = lp[: len(idx)].float().cpu()
                out[idx, 1] = lp[len(idx):].float().cpu()
                if progress:
                    progress(min(start + batch_size, len(order)), len(order))
    finally:
        model.train(was_training)
    return out
