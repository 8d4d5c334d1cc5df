"""Training methods: how a batch's policy log-probs are computed and turned into one loss (DESIGN.md §5).

The trainer only talks to a `Method`, so MAH-DPO (per-objective heads: its own `policy_logps`), MODPO (margins
added in `loss`) and soups plug in here without touching the loop.
"""

from __future__ import annotations

import torch
from torch import Tensor

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.data import Batch
from workbench.training.logprobs import SeqLogps, sequence_logps
from workbench.training.losses import REFERENCE_FREE, LogpBatch, LossParams, preference_loss


def logp_batch(lp: SeqLogps, ref: Tensor | None, batch: Batch, rows: Tensor | None = None) -> LogpBatch:
    """Split [2B] sequence log-probs into chosen/rejected halves (+ cached reference rows [N, 2]); `rows` selects
    a subset of the batch's pairs (one objective's pairs for the weighted method)."""
    b = batch.index.numel()
    sel = rows if rows is not None else torch.arange(b, device=lp.sum.device)
    weights = None
    if lp.wpo_logw is not None:  # WPO: w_chosen · w_rejected (Zhou et al. 2024), no gradient
        weights = torch.exp(lp.wpo_logw[:b] + lp.wpo_logw[b:])[sel].detach()
    rc = rr = None
    if ref is not None:
        r = ref[batch.index[sel]]
        rc, rr = r[:, 0].to(lp.sum.dtype), r[:, 1].to(lp.sum.dtype)
    return LogpBatch(pc=lp.sum[:b][sel], pr=lp.sum[b:][sel], rc=rc, rr=rr,
                     nc=lp.count[:b][sel], nr=lp.count[b:][sel], weights=weights)


class Method:
    """DPO-family training on all pairs of the batch: one `preference_loss` over them."""

    name = "dpo"

    def __init__(self, cfg: RunConfig, objectives: list[str]) -> None:
        self.cfg = cfg
        self.objectives = objectives
        self.params = LossParams.from_config(cfg)
        self.needs_reference = not set(cfg.losses) <= REFERENCE_FREE

    def extra_parameters(self) -> list[torch.nn.Parameter]:
        """Trainable parameters beyond the LoRA adapter (MAH-DPO's heads); the trainer optimises them too."""
        return []

    def policy_logps(self, model: torch.nn.Module, batch: Batch) -> SeqLogps:
        return sequence_logps(model, batch, chunk_tokens=self.cfg.logprob_chunk, with_wpo=self.cfg.wpo)

    def loss(self, lp: SeqLogps, ref: Tensor | None, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """(scalar loss, metrics) of one micro-batch; per-objective metrics are added for every method."""
        loss, metrics = preference_loss(self.cfg.losses, logp_batch(lp, ref, batch), self.params)
        for k, name, sub, sub_metrics in self._per_objective(lp, ref, batch):
            metrics.update(_prefixed(name, sub, sub_metrics))
        return loss, metrics

    def _per_objective(self, lp: SeqLogps, ref: Tensor | None, batch: Batch):
        """(k, name, L_k, metrics_k) for each objective present in the batch."""
        for k in torch.unique(batch.objective).tolist():
            rows = (batch.objective == k).nonzero(as_tuple=True)[0]
            sub, sub_metrics = preference_loss(self.cfg.losses, logp_batch(lp, ref, batch, rows), self.params)
            yield k, self.objectives[k], sub, sub_metrics


def _prefixed(name: str, loss: Tensor, metrics: dict[str, float]) -> dict[str, float]:
    keep = ("loss", "rewards/margins", "rewards/accuracies")
    return {f"{name}/{key}": (loss.item() if key == "loss" else metrics[key]) for key in keep}


class WeightedMethod(Method):
    """Weighted multi-objective DPO: Σ_k w_k · L_k, L_k the loss over the batch's pairs of objective k
    (LOSSES.md "Multi-objective"). Batches mix objectives; an objective absent from a batch adds nothing."""

    name = "weighted"

    def __init__(self, cfg: RunConfig, objectives: list[str]) -> None:
        super().__init__(cfg, objectives)
        self.weights = cfg.normalised_weights(objectives)

    def loss(self, lp: SeqLogps, ref: Tensor | None, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        _, metrics = preference_loss(self.cfg.losses, logp_batch(lp, ref, batch), self.params)
        total = lp.sum.new_zeros(())
        for _, name, sub, sub_metrics in self._per_objective(lp, ref, batch):
            total = total + self.weights[name] * sub
            metrics.update(_prefixed(name, sub, sub_metrics))
        metrics["loss"] = total.item()
        return total, metrics


METHODS: dict[str, type[Method]] = {"dpo": Method, "weighted": WeightedMethod}


def make_method(cfg: RunConfig, objectives: list[str]) -> Method:
    """The Method for cfg.method; a RunError names the methods this build can train."""
    if cfg.method not in METHODS:
        raise RunError(f"method {cfg.method!r} is not available in this build; choose one of {', '.join(METHODS)}")
    return METHODS[cfg.method](cfg, objectives)
