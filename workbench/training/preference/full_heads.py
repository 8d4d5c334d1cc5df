"""MAH-DPO with full per-objective output heads: the paper's variant (arXiv 2510.01167, pearls-lab/multiobj-align),
one full V×H copy of the model's output head per objective, initialised from it (issue 11, item 2).

    logits_k(h) = W_k h,   W_k = W at step 0          mixed(h, w) = (Σ_k w_k W_k) h   (one merged head)

Beside the default low-rank deltas (training.heads, 2·r·H parameters per objective) this costs K·V·H trainable
parameters (SmolLM2-135M: 28 M per objective, ~340 MB per objective with AdamW state in fp32), and the heads are
copies: a tied input embedding is never modified. With K = 1 and at step 0 it is exactly the base head, so the
first loss and the LoRA gradients equal plain DPO's. Saved next to the adapter as heads.safetensors ("W") +
heads.json with "type": "full"; training.heads.load_heads reads either kind.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

HEADS_WEIGHTS = "heads.safetensors"
HEADS_CONFIG = "heads.json"
KIND = "full"


class FullObjectiveHeads(torch.nn.Module):
    """K full output heads W [K, V, H]; head k maps h to W_k h."""

    kind = KIND

    def __init__(self, objectives: list[str], weight: Tensor) -> None:
        super().__init__()
        if not objectives:
            raise ValueError("FullObjectiveHeads needs at least one objective")
        self.objectives = list(objectives)
        self.vocab, self.hidden = int(weight.shape[0]), int(weight.shape[1])
        w = weight.detach().float().clone().unsqueeze(0).repeat(len(objectives), 1, 1)
        self.W = torch.nn.Parameter(w)

    @property
    def rank(self) -> int:  # for messages that name a head's size
        return self.hidden

    def index(self, objective: str) -> int:
        return self.objectives.index(objective)

    def logits(self, h: Tensor, k: int) -> Tensor:
        """W_k h for hidden states h [..., H] (in h's dtype)."""
        return h @ self.W[k].to(h.dtype).T

    def mixed_weight(self, weights: Tensor) -> Tensor:
        """Σ_k w_k W_k [V, H]: the merged head (weights [K] used as given)."""
        return torch.einsum("k,kvh->vh", weights.to(self.W.device, self.W.dtype), self.W)

    def weight_vector(self, weights: dict[str, float]) -> Tensor:
        unknown = sorted(set(weights) - set(self.objectives))
        if unknown:
            raise ValueError(f"unknown objective(s) {', '.join(unknown)}; heads: {', '.join(self.objectives)}")
        return torch.tensor([float(weights.get(o, 0.0)) for o in self.objectives], device=self.W.device)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"W": self.W.detach().float().cpu().contiguous()}, str(folder / HEADS_WEIGHTS))
        meta = {"objectives": self.objectives, "type": KIND, "vocab": self.vocab, "hidden": self.hidden}
        (folder / HEADS_CONFIG).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    def load_weights(self, folder: str | Path) -> None:
        with torch.no_grad():
            self.W.copy_(load_file(str(Path(folder) / HEADS_WEIGHTS))["W"])

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str | None = None) -> FullObjectiveHeads:
        meta = json.loads((Path(folder) / HEADS_CONFIG).read_text(encoding="utf-8"))
        heads = cls(list(meta["objectives"]), torch.zeros(int(meta["vocab"]), int(meta["hidden"])))
        heads.load_weights(folder)
        return heads.to(device) if device is not None else heads
