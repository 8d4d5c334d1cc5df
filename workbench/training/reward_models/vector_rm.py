"""The vector outcome reward model: a LoRA on the base causal LM (one shared trunk) and a linear head with K
outputs, one per objective, read at the last token of prompt + response (issue #17, item 4).

    r(x, y) = W · h_T(x ⊕ y)          h_T: the trunk's last hidden state at the last real token; W: [K, H], no bias

Each objective's pairs train its own output by the Bradley-Terry loss of TRL's RewardTrainer
(trl/trainer/reward_trainer.py; Stiennon et al. 2020 eq. 1, Ouyang et al. 2022 eq. 1):

    loss = mean over pairs of −log σ(r_k(chosen) − r_k(rejected))   k = the pair's objective
           + c · mean((r_k(chosen) + r_k(rejected))²)                 TRL's center_rewards_coefficient c (optional)

so row k of W receives gradient from objective k's pairs only, while the LoRA trunk learns from all of them
(the shared-trunk / per-attribute-head layout of ArmoRM's stage 1, trained end to end instead of probed).

A checkpoint folder holds the PEFT adapter (adapter_model.safetensors + adapter_config.json, as every run's),
`rm_head.safetensors` (W) and `rm.json` (objectives in output order, base model, lengths), so
`workbench.inference.reward_scoring.VectorRM` can load it with nothing else.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor

from workbench.core.errors import RunError

RM_CONFIG = "rm.json"
RM_HEAD = "rm_head.safetensors"
RM_FORMAT = 1


@dataclass
class RMInfo:
    """rm.json: what a checkpoint needs to be loaded and scored the way it was trained."""

    objectives: list[str]
    base_model: str
    hidden: int
    max_length: int
    max_prompt_length: int
    revision: str = ""
    gguf_file: str = ""
    format: int = RM_FORMAT
    kind: str = "vector_rm"
    extra: dict = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        (Path(folder) / RM_CONFIG).write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> RMInfo:
        path = Path(folder) / RM_CONFIG
        if not path.is_file():
            raise RunError(f"{folder} is not a reward-model checkpoint (no {RM_CONFIG}): choose a checkpoints/step-N "
                           "folder of a reward_model run")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            info = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError) as exc:
            raise RunError(f"{path} is damaged ({exc}); train the reward model again") from None
        if info.format > RM_FORMAT:
            raise RunError(f"{path} was written by a newer version of Workbench: update to load this reward model")
        return info


def trunk_of(model: torch.nn.Module) -> torch.nn.Module:
    """The decoder that yields hidden states (LlamaModel, GPT2Model, ...) inside a (PEFT-wrapped) causal LM: the
    LoRA layers are injected in place, so calling it runs the adapter without computing [B, T, V] logits."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.base_model if getattr(inner, "base_model", None) is not None else inner


class RewardHead(torch.nn.Module):
    """W [K, H] without bias (Bradley-Terry is blind to a shared offset), fp32, from a private seeded generator so
    creating it never shifts the run's RNG stream."""

    def __init__(self, hidden: int, n_objectives: int, *, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        # std 1/√H: initial rewards of O(1) for unit-scale hidden states (HF's 0.02 makes the first steps crawl)
        self.weight = torch.nn.Parameter(torch.randn(n_objectives, hidden, generator=gen) / hidden ** 0.5)

    def forward(self, h: Tensor) -> Tensor:  # [N, H] -> [N, K]
        return h.float() @ self.weight.T


def last_token_hidden(model: torch.nn.Module, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """[N, H] hidden state at each row's last real token (rows right-padded)."""
    hidden = trunk_of(model)(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [N, T, H]
    last = attention_mask.sum(dim=1) - 1  # [N]
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def rewards(model: torch.nn.Module, head: RewardHead, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """[N, K] reward of every row for every objective."""
    return head(last_token_hidden(model, input_ids, attention_mask))


def bt_loss(r_chosen: Tensor, r_rejected: Tensor, objective: Tensor, *, center: float = 0.0
            ) -> tuple[Tensor, Tensor, Tensor]:
    """(loss, rc, rr): the Bradley-Terry loss (module docstring) of pairs whose rewards are [B, K] tensors, each pair
    scored on its own objective's output only; rc, rr are those [B] selected rewards."""
    rows = torch.arange(objective.shape[0], device=objective.device)
    rc, rr = r_chosen[rows, objective], r_rejected[rows, objective]  # [B]
    loss = -F.logsigmoid(rc - rr).mean()
    if center:
        loss = loss + center * ((rc + rr) ** 2).mean()
    return loss, rc, rr


def pair_metrics(loss: Tensor, rc: Tensor, rr: Tensor, objective: Tensor, objectives: list[str]) -> dict[str, float]:
    """TRL RewardTrainer's metric names (accuracy, margin, min/mean/max_reward) plus `<objective>/accuracy`,
    `<objective>/margin` over the batch's pairs of each objective."""
    diff = (rc - rr).detach().double()
    both = torch.cat([rc, rr]).detach().double()
    out = {"loss": float(loss.detach()), "accuracy": float((diff > 0).double().mean()), "margin": float(diff.mean()),
           "min_reward": float(both.min()), "mean_reward": float(both.mean()), "max_reward": float(both.max())}
    for k in torch.unique(objective).tolist():
        mask = objective == k
        out[f"{objectives[k]}/accuracy"] = float((diff[mask] > 0).double().mean())
        out[f"{objectives[k]}/margin"] = float(diff[mask].mean())
    return out


def save_head(folder: Path, head: RewardHead, info: RMInfo) -> None:
    save_file({"weight": head.weight.detach().float().cpu().contiguous()}, str(Path(folder) / RM_HEAD))
    info.save(folder)


def load_head(folder: str | Path, head: RewardHead) -> None:
    path = Path(folder) / RM_HEAD
    if not path.is_file():
        raise RunError(f"{folder} has no {RM_HEAD}: it is not a complete reward-model checkpoint")
    weight = load_file(str(path))["weight"]
    if weight.shape != head.weight.shape:
        raise RunError(f"the reward head in {folder} has shape {tuple(weight.shape)}, this model needs "
                       f"{tuple(head.weight.shape)}: it was trained on another base model or other objectives")
    with torch.no_grad():
        head.weight.copy_(weight.to(head.weight.device))


def hidden_size(model: Any) -> int:
    config = getattr(model, "config", None)
    for key in ("hidden_size", "n_embd", "d_model"):
        if isinstance(getattr(config, key, None), int):
            return int(getattr(config, key))
    raise RunError("cannot tell the model's hidden size (no hidden_size in its config)")


@torch.no_grad()
def score_sequences(model: torch.nn.Module, head: RewardHead, seqs: list[list[int]], *, pad_id: int,
                    batch_size: int, autocast: Any = None) -> Tensor:
    """[N, K] float64 rewards of token sequences (prompt + response ids), in length-sorted right-padded batches
    (little padding); the trainer's suggestions and `VectorRM.score` both go through here. `autocast()` is the
    context the trunk runs in (the run's precision)."""
    out = torch.zeros(len(seqs), head.weight.shape[0], dtype=torch.float64)
    device = head.weight.device
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), max(1, batch_size)):
            idx = order[start:start + batch_size]
            width = max(len(seqs[i]) for i in idx)
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, :len(seqs[i])] = torch.tensor(seqs[i], dtype=torch.long)
                mask[r, :len(seqs[i])] = 1
            with (autocast() if autocast is not None else contextlib.nullcontext()):
                h = last_token_hidden(model, ids.to(device), mask.to(device))  # [b, H]
            out[idx] = head(h).double().cpu()
    finally:
        model.train(was_training)
    return out
