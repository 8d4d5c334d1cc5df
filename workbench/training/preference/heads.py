"""MAH-DPO objective heads: one low-rank delta per objective on the frozen output head (DESIGN.md §5).

Multi-Action-Head DPO (arXiv 2510.01167, pearls-lab/multiobj-align) trains one output head per objective on a
shared body, each head by DPO on its own objective's pairs, and steers at inference by mixing the heads' logits.
Their heads are full V×H copies of the LM head (136 M parameters each on a 0.5B model, and a perturbed tied
embedding); ours are low-rank deltas in HIDDEN space in front of the frozen head W:

    logits_k(h) = W (h + B_k A_k h)          A_k: [r, H] (small random init), B_k: [H, r] (zero init)
    mixed(h, w) = Σ_k w_k logits_k(h) = W (h + Σ_k w_k B_k A_k h)   when Σ_k w_k = 1 (linearity of W)

so W (tied to the embeddings or not) is never modified, a head costs 2·r·H parameters, a zero B makes every head
equal the base head at step 0 (first sigmoid loss ln 2), and a mixture is one forward pre-hook on the output head
(`MixingHook`): `model.generate` and every forward pass then decode with the mixture at no extra cost.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

HEADS_WEIGHTS = "heads.safetensors"
HEADS_CONFIG = "heads.json"


class ObjectiveHeads(torch.nn.Module):
    """K low-rank hidden-space deltas: A [K, r, H], B [K, H, r]; head k maps h to h + B_k A_k h."""

    def __init__(self, objectives: list[str], hidden: int, rank: int, *, seed: int = 0) -> None:
        super().__init__()
        if not objectives:
            raise ValueError("ObjectiveHeads needs at least one objective")
        if rank < 1 or hidden < 1:
            raise ValueError("rank and hidden must be >= 1")
        self.objectives = list(objectives)
        self.hidden, self.rank = int(hidden), int(rank)
        # LoRA's A init (kaiming-uniform with a=√5 gives U(−1/√H, 1/√H)) from a private generator, so creating
        # heads never shifts the global RNG stream (data order, LoRA init) of the run.
        gen = torch.Generator().manual_seed(seed)
        bound = 1.0 / math.sqrt(hidden)
        a = (torch.rand(len(objectives), rank, hidden, generator=gen) * 2 - 1) * bound
        self.A = torch.nn.Parameter(a)
        self.B = torch.nn.Parameter(torch.zeros(len(objectives), hidden, rank))

    def index(self, objective: str) -> int:
        return self.objectives.index(objective)

    def delta(self, h: Tensor, k: int) -> Tensor:
        """B_k A_k h for hidden states h [..., H] (in h's dtype)."""
        a, b = self.A[k].to(h.dtype), self.B[k].to(h.dtype)
        return (h @ a.T) @ b.T

    def mixed_delta(self, h: Tensor, weights: Tensor) -> Tensor:
        """Σ_k w_k B_k A_k h as ONE rank-K·r product (the merged head); weights [K] are used as given."""
        k, r = len(self.objectives), self.rank
        w = weights.to(device=h.device, dtype=h.dtype).repeat_interleave(r)  # [K·r]
        a = self.A.to(h.dtype).reshape(k * r, self.hidden)  # rows A_1..A_K
        b = self.B.to(h.dtype).permute(1, 0, 2).reshape(self.hidden, k * r)  # columns B_1..B_K
        return ((h @ a.T) * w) @ b.T

    def weight_vector(self, weights: dict[str, float]) -> Tensor:
        """A {objective: weight} dict as a [K] tensor in head order (missing objectives = 0)."""
        unknown = sorted(set(weights) - set(self.objectives))
        if unknown:
            raise ValueError(f"unknown objective(s) {', '.join(unknown)}; heads: {', '.join(self.objectives)}")
        return torch.tensor([float(weights.get(o, 0.0)) for o in self.objectives], device=self.A.device)

    def save(self, folder: str | Path) -> None:
        """folder/heads.safetensors (A, B) + folder/heads.json ({objectives, rank, hidden})."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"A": self.A.detach().float().cpu().contiguous(), "B": self.B.detach().float().cpu().contiguous()},
                  str(folder / HEADS_WEIGHTS))
        meta = {"objectives": self.objectives, "rank": self.rank, "hidden": self.hidden}
        (folder / HEADS_CONFIG).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    def load_weights(self, folder: str | Path) -> None:
        """Copy saved A, B into these (same-shaped) parameters in place: the optimizer keeps pointing at them."""
        state = load_file(str(Path(folder) / HEADS_WEIGHTS))
        with torch.no_grad():
            self.A.copy_(state["A"])
            self.B.copy_(state["B"])

    kind = "low_rank"

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str | None = None) -> ObjectiveHeads:
        meta = json.loads((Path(folder) / HEADS_CONFIG).read_text(encoding="utf-8"))
        if meta.get("type", cls.kind) != cls.kind:
            raise ValueError(f"{folder} holds {meta.get('type')} heads, not low-rank ones")
        heads = cls(list(meta["objectives"]), int(meta["hidden"]), int(meta["rank"]))
        heads.load_weights(folder)
        return heads.to(device) if device is not None else heads


def heads_kind(folder: str | Path) -> str:
    """"low_rank" or "full" (training.full_heads) for the heads saved in `folder`."""
    meta = json.loads((Path(folder) / HEADS_CONFIG).read_text(encoding="utf-8"))
    return str(meta.get("type", ObjectiveHeads.kind))


def load_heads(folder: str | Path, device: torch.device | str | None = None) -> Any:
    """The heads saved in `folder`, of either kind."""
    if heads_kind(folder) == "full":
        from workbench.training.preference.full_heads import FullObjectiveHeads

        return FullObjectiveHeads.load(folder, device=device)
    return ObjectiveHeads.load(folder, device=device)


def has_heads(folder: str | Path) -> bool:
    """True when `folder` (a checkpoint) holds MAH-DPO heads."""
    return (Path(folder) / HEADS_WEIGHTS).is_file() and (Path(folder) / HEADS_CONFIG).is_file()


def output_head(model: torch.nn.Module) -> torch.nn.Module:
    """The output head (lm_head) of a causal LM, also through a PeftModel (its attribute access forwards)."""
    head = model.get_output_embeddings()
    if head is None:
        raise ValueError(f"{type(model).__name__} has no output head")
    return head


class MixingHook:
    """Steers a model with a mixture of objective heads: a forward PRE-hook on the output head replaces its
    input h by h + Σ_k w_k B_k A_k h, i.e. logits = Σ_k w_k logits_k(h) for weights summing to 1.

    Weights are used as given (callers normalise); no weights / all zeros = the base head exactly (the hook then
    returns the input untouched), which is also what `with hook.disabled():` gives, e.g. for the reference.
    """

    def __init__(self, model: torch.nn.Module, heads: ObjectiveHeads) -> None:
        self.heads = heads
        self._weights: Tensor | None = None
        self._enabled = True
        if getattr(heads, "kind", "low_rank") == "full":  # full heads replace the head's output (one merged head)
            self._handle = output_head(model).register_forward_hook(self._post_hook)
        else:
            self._handle = output_head(model).register_forward_pre_hook(self._pre_hook)

    @property
    def weights(self) -> dict[str, float]:
        w = self._weights.tolist() if self._weights is not None else [0.0] * len(self.heads.objectives)
        return dict(zip(self.heads.objectives, w))

    def set_weights(self, weights: dict[str, float]) -> None:
        vec = self.heads.weight_vector(weights)
        self._weights = vec if bool(vec.abs().sum() > 0) else None

    def _pre_hook(self, _module: torch.nn.Module, args: tuple) -> tuple | None:
        if not self._enabled or self._weights is None:
            return None
        h = args[0]
        return (h + self.heads.mixed_delta(h, self._weights), *args[1:])

    def _post_hook(self, _module: torch.nn.Module, args: tuple, output: Tensor) -> Tensor | None:
        if not self._enabled or self._weights is None:
            return None
        h = args[0]
        return torch.nn.functional.linear(h, self.heads.mixed_weight(self._weights).to(h.dtype))

    @contextlib.contextmanager
    def disabled(self) -> Iterator[None]:
        """The base head inside the block (the reference of the mixture), the mixture again after it."""
        previous, self._enabled = self._enabled, False
        try:
            yield
        finally:
            self._enabled = previous

    def remove(self) -> None:
        self._handle.remove()
