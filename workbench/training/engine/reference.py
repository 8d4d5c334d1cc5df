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

from workbench.training.engine.data import Batch, TokenizedData, collate
from workbench.training.parallel.distributed import gather_table, is_main_process, table_rows
from workbench.training.engine.logprobs import HeadInput, sequence_logps


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
    out = logps_table(model, data, batch_size=batch_size, chunk_tokens=chunk_tokens, pad_id=pad_id,
                      progress=progress)
    if path is not None and is_main_process():
        tmp = path.with_suffix(".tmp")
        torch.save({"fingerprint": fp, "logps": out}, tmp)
        tmp.replace(path)
    return out


def _adapter_context(model: torch.nn.Module, adapter: str | None) -> contextlib.AbstractContextManager:
    """Adapter disabled (the reference) when `adapter` is None, else that named adapter active for the block."""
    if adapter is None:
        return model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()

    @contextlib.contextmanager
    def switched():
        previous = model.active_adapter
        model.set_adapter(adapter)
        try:
            yield
        finally:
            model.set_adapter(previous)  # also makes `previous` trainable again (PEFT ties that to activation)

    return switched()


def pair_table(model: torch.nn.Module, data: TokenizedData, batch_logps: Callable[[Batch], Tensor], *,
               batch_size: int, pad_id: int = 0, progress: Callable[[int, int], None] | None = None,
               before_batch: Callable[[], None] | None = None) -> Tensor:
    """[N, 2] (chosen, rejected) summed completion log-probs of every pair: `batch_logps(batch)` gives the [2B]
    sums of one collated batch; no grad, eval mode, length-sorted batches (little padding). `before_batch` runs
    before each batch (a stop check may raise there). Under torchrun each process scores its share of the rows
    and the shares are gathered (workbench.training.parallel.distributed)."""
    device = next(model.parameters()).device
    out = torch.zeros(len(data), 2, dtype=torch.float32)
    order = table_rows(sorted(range(len(data)), key=data.length))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                if before_batch is not None:
                    before_batch()
                idx = order[start:start + batch_size]
                lp = batch_logps(collate(data, idx, pad_id, device))
                out[idx, 0] = lp[: len(idx)].float().cpu()
                out[idx, 1] = lp[len(idx):].float().cpu()
                if progress:
                    progress(min(start + batch_size, len(order)), len(order))
    finally:
        model.train(was_training)
    return gather_table(out)


def logps_table(model: torch.nn.Module, data: TokenizedData, *, batch_size: int, chunk_tokens: int,
                pad_id: int = 0, progress: Callable[[int, int], None] | None = None,
                adapter: str | None = None, head_input: HeadInput | None = None) -> Tensor:
    """[N, 2] log-prob table (see pair_table) under the reference (adapter None) or under the named PEFT adapter
    `adapter` (MODPO margins), with an optional head-input rewrite (a MAH-DPO head, see logprobs.sequence_logps)."""
    with _adapter_context(model, adapter):
        return pair_table(model, data, lambda batch: sequence_logps(model, batch, chunk_tokens=chunk_tokens,
                                                                    head_input=head_input).sum,
                          batch_size=batch_size, pad_id=pad_id, progress=progress)
