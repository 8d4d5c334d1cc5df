"""Reference log-probs computed lazily, the first time a pair is trained on, and cached per pair (issue #14).

Why lazy: an upfront pass over every pair before the first step makes a short run pay for pairs it never uses
(12 SmolLM2 steps on 512 pairs: 618 s against TRL's 121 s). Computed on first use, a run's first epoch costs what
TRL's default costs (a reference forward per batch), every later epoch what a cached reference costs, and a run
of a few steps only pays for its own batches. `reference="upfront"` keeps the one pass before training (useful
when the device is needed for something else during training, and for MODPO, whose margins need every pair).

Bit-identical either way: a pair's reference is always computed inside the collated batch the trainer builds for
it the first time (the epoch-0 micro-batch order, then the evaluation batches), so lazy and upfront give the same
numbers to the last bit, not just to a tolerance (batch shape changes a float sum's rounding).

The cache file is the one `reference.reference_logps` writes (run_dir/ref_logps.pt, same fingerprint), plus a
`known` mask of the pairs filled so far; a file without the mask (a full table) loads as all known.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import Tensor

from workbench.core.run_config import RunConfig
from workbench.training.engine.data import Batch, TokenizedData, collate
from workbench.training.parallel.distributed import is_main_process
from workbench.training.engine.logprobs import sequence_logps
from workbench.training.engine.reference import data_fingerprint
from workbench.training.engine.shared_reference import SharedReference, pair_key

def batch_reference_logps(model: torch.nn.Module, batch: Batch, *, chunk_tokens: int,
                          share_prompt: bool = False) -> Tensor:
    """[2B] summed completion log-probs under the reference (adapter disabled), no grad, eval mode."""
    was_training = model.training
    model.eval()
    ctx = model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()
    try:
        with torch.no_grad(), ctx:
            return sequence_logps(model, batch, chunk_tokens=chunk_tokens, share_prompt=share_prompt).sum.float()
    finally:
        model.train(was_training)


def upfront_batches(cfg: RunConfig, data: TokenizedData, train_idx: list[int],
                    eval_idx: list[int]) -> list[list[int]]:
    """The batches a run first meets its pairs in: epoch 0's micro-batches (balanced or proportional, exactly as
    the trainer draws them: training.batching.epoch_batches), then the evaluation batches, so an upfront pass
    computes each pair exactly as the lazy path would."""
    from workbench.training.engine.batching import epoch_batches

    batch_size = cfg.batch_size
    batches = [list(b) for b in epoch_batches(cfg, data, train_idx, 0)]
    batches += [eval_idx[s:s + batch_size] for s in range(0, len(eval_idx), batch_size)]
    seen = set(train_idx) | set(eval_idx)
    rest = [i for i in range(len(data)) if i not in seen]
    return batches + [rest[s:s + batch_size] for s in range(0, len(rest), batch_size)]


class ReferenceCache:
    """[N, 2] (chosen, rejected) reference log-probs of `data`, filled per batch on first use.

    `ref[index]` returns the rows of the pairs `index` (a tensor of TokenizedData positions) on index's device, as
    methods.logp_batch indexes a plain [N, 2] table; asking for a pair not filled yet is a programming error."""

    def __init__(self, model: torch.nn.Module, data: TokenizedData, *, chunk_tokens: int, pad_id: int,
                 model_id: str, path: str | Path | None = None, share_prompt: bool = False,
                 shared: SharedReference | None = None) -> None:
        self.model, self.data, self.chunk_tokens, self.pad_id = model, data, chunk_tokens, pad_id
        self.share_prompt = share_prompt
        self.path = Path(path) if path else None
        self.fingerprint = data_fingerprint(data, model_id)
        self.logps = torch.zeros(len(data), 2, dtype=torch.float32)
        self.known = torch.zeros(len(data), dtype=torch.bool)
        self.computed = 0  # pairs whose reference this process computed (the rest came from the file)
        self._dirty = False
        self._load()
        self.shared = shared  # candidates only: values other runs computed (shared_reference.py)
        self.from_shared = 0  # pairs this process took from `shared`
        if shared is not None:
            self._keys = [pair_key(data.prompt_ids[i], data.chosen_ids[i], data.rejected_ids[i])
                          for i in range(len(data))]
            for i in (~self.known).nonzero().flatten().tolist():
                value = shared.get(self._keys[i])
                if value is not None:
                    self.logps[i] = torch.tensor(value)
                    self.known[i] = True
                    self.from_shared += 1
                    self._dirty = True

    # ---- file ------------------------------------------------------------------------------------------------
    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            cached = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - an unreadable cache is recomputed, never fatal
            return
        if not isinstance(cached, dict) or "logps" not in cached or cached.get("fingerprint") != self.fingerprint or cached["logps"].shape != self.logps.shape:
            return
        self.logps = cached["logps"].float().clone()
        known = cached.get("known")
        self.known = known.bool().clone() if known is not None else torch.ones(len(self.data), dtype=torch.bool)

    def save(self) -> None:
        """Write the table (atomically) when something new was computed since the last save."""
        if not is_main_process():  # under torchrun rank 0 alone writes
            return
        if self.shared is not None:
            self.shared.save()
        if self.path is None or not self._dirty:
            return
        tmp = self.path.with_suffix(".tmp")
        torch.save({"fingerprint": self.fingerprint, "logps": self.logps, "known": self.known}, tmp)
        tmp.replace(self.path)
        self._dirty = False

    # ---- filling -------------------------------------------------------------------------------------------
    def ensure(self, batch: Batch) -> None:
        """Compute the reference of `batch`'s pairs unless all are known (the whole batch, as collated)."""
        index = batch.index.cpu()
        missing = ~self.known[index]
        if not bool(missing.any()):
            return
        lp = batch_reference_logps(self.model, batch, chunk_tokens=self.chunk_tokens,
                                   share_prompt=self.share_prompt).cpu()
        b = index.numel()
        new = index[missing]
        self.logps[new, 0] = lp[:b][missing]
        self.logps[new, 1] = lp[b:][missing]
        self.known[new] = True
        self.computed += int(missing.sum())
        self._dirty = True
        if self.shared is not None:
            for i in new.tolist():
                self.shared.put(self._keys[i], float(self.logps[i, 0]), float(self.logps[i, 1]))

    def fill(self, batches: Iterable[list[int]], *, device: torch.device,
             progress: Callable[[int, int], None] | None = None) -> None:
        """Ensure every batch of `batches` (lists of pair positions), reporting pairs done / pairs in all."""
        batches = list(batches)
        total, done = sum(len(b) for b in batches), 0
        for idx in batches:
            if not bool(self.known[idx].all()):
                self.ensure(collate(self.data, idx, self.pad_id, device))
            done += len(idx)
            if progress:
                progress(done, total)

    def complete(self, *, batch_size: int, device: torch.device,
                 progress: Callable[[int, int], None] | None = None) -> Tensor:
        """Fill every pair not known yet (length-sorted batches: little padding) and return the full table."""
        missing = sorted((i for i in range(len(self.data)) if not self.known[i]), key=self.data.length)
        self.fill([missing[s:s + batch_size] for s in range(0, len(missing), batch_size)], device=device,
                  progress=progress)
        return self.table()

    def is_complete(self) -> bool:
        return bool(self.known.all())

    def table(self) -> Tensor:
        """The full [N, 2] table (CPU); every pair must be known."""
        if not self.is_complete():
            raise RuntimeError(f"{int((~self.known).sum())} pair(s) have no reference log-probs yet")
        return self.logps

    def __getitem__(self, index: Tensor) -> Tensor:
        cpu = index.cpu()
        if not bool(self.known[cpu].all()):
            raise RuntimeError("reference log-probs requested for pairs that were never computed (call ensure)")
        return self.logps[cpu].to(index.device)

    def __len__(self) -> int:
        return len(self.data)
