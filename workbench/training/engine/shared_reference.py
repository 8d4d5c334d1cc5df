"""Reference log-probs of candidate pairs, shared by every run of a project on the same base model (issue #14).

The active-queue margin pass (margins.py) scores up to `active_candidates` unlabelled pairs after each run. The
reference is the base model, which does not change between runs, and most candidates are the same from one run to
the next (labelling removes a few), yet each run's candidates_ref_logps.pt is keyed by that run's whole candidate
list. Keyed per pair instead — a hash of the pair's token ids — a table in the project's runs folder
(`<runs root>/reference_cache/<model key>.pt`) lets every later run's pass cost a policy forward per candidate it
has seen before, not a reference forward plus a policy forward.

What keys a value: the model id and its weights' dtype pick the file; the prompt, chosen and rejected token ids (so
the tokenizer, chat template and truncation settings) pick the row. A value computed in another batch differs from
a fresh one by float rounding only (~1e-6 of a log-prob); these values rank candidates, they never train. The run's
own pairs do not use this table: their reference stays the one computed in the run's own batches
(reference_cache.py keeps lazy and upfront training bit-identical).

Several runs may finish at once: `save` re-reads the file, merges, and replaces it atomically, so a race can lose
a few new entries (recomputed next time) but never corrupts the table; an unreadable file is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch

SHARED_DIR = "reference_cache"
MAX_ENTRIES = 200_000  # ~6 MB; the oldest entries go first beyond it


def pair_key(prompt_ids: Sequence[int], chosen_ids: Sequence[int], rejected_ids: Sequence[int]) -> bytes:
    """16 bytes of sha256 over the pair's token ids (the objective does not change the reference)."""
    text = json.dumps([list(prompt_ids), list(chosen_ids), list(rejected_ids)], separators=(",", ":"))
    return hashlib.sha256(text.encode()).digest()[:16]


def model_key(model_id: str, dtype: torch.dtype) -> str:
    return hashlib.sha256(f"{model_id}|{dtype}".encode()).hexdigest()[:20]


class SharedReference:
    """{pair key: (chosen, rejected) reference log-probs} for one base model, in `folder`."""

    def __init__(self, folder: str | Path, model_id: str, dtype: torch.dtype) -> None:
        self.path = Path(folder) / f"{model_key(model_id, dtype)}.pt"
        self.model_id, self.dtype = model_id, str(dtype)
        self.values: dict[bytes, tuple[float, float]] = self._read()
        self.new: dict[bytes, tuple[float, float]] = {}

    def _read(self) -> dict[bytes, tuple[float, float]]:
        if not self.path.exists():
            return {}
        try:
            blob = torch.load(self.path, map_location="cpu", weights_only=True)
            if blob.get("model") != self.model_id or blob.get("dtype") != self.dtype:
                return {}
            keys, logps = blob["keys"], blob["logps"]
            return {bytes(k): (float(c), float(r)) for k, (c, r) in zip(keys.tolist(), logps.tolist())}
        except Exception:  # noqa: BLE001 - a damaged cache is recomputed, never fatal
            return {}

    def get(self, key: bytes) -> tuple[float, float] | None:
        return self.new.get(key) or self.values.get(key)

    def put(self, key: bytes, chosen: float, rejected: float) -> None:
        self.new[key] = (chosen, rejected)

    def __len__(self) -> int:
        return len(self.values.keys() | self.new.keys())

    def save(self) -> None:
        """Merge the new entries into the file as it is now (another run may have written it) and replace it."""
        if not self.new:
            return
        merged = self._read()
        merged.update(self.new)
        items = list(merged.items())[-MAX_ENTRIES:]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        torch.save({"model": self.model_id, "dtype": self.dtype,
                    "keys": torch.tensor([list(k) for k, _ in items], dtype=torch.uint8).reshape(-1, 16),
                    "logps": torch.tensor([v for _, v in items], dtype=torch.float32).reshape(-1, 2)}, tmp)
        os.replace(tmp, self.path)
        self.values, self.new = dict(items), {}
