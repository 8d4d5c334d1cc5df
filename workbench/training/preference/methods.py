"""Training methods: how a batch's policy log-probs are computed and turned into one loss (DESIGN.md §5).

The trainer only talks to a `Method`, so MAH-DPO (per-objective heads: its own `policy_logps`, heads saved with
each checkpoint), MODPO (margins precomputed in `prepare`, added in `loss`) and soups plug in here without
touching the loop. Hooks, in the order the trainer calls them: `train_rows` (which pairs), `prepare` (after the
reference log-probs), `extra_parameters` (optimised with the adapter), `policy_logps` + `loss` (every step),
`save_files` / `load_files` (checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.engine.data import Batch, PairRow, TokenizedData
from workbench.training.preference.full_heads import FullObjectiveHeads
from workbench.training.preference.heads import HEADS_CONFIG, ObjectiveHeads, has_heads, load_heads, output_head
from workbench.training.engine.logprobs import SeqLogps, sequence_logps
from workbench.training.preference.losses import REFERENCE_FREE, LogpBatch, LossParams, preference_loss
from workbench.training.preference.modpo import margin_table, modpo_problems, modpo_shift, modpo_weights


@dataclass
class MethodContext:
    """What `Method.prepare` may use: the PeftModel, the tokenized pairs (and the raw rows they came from), the
    run folder, the cached reference log-probs [N, 2] (None for reference-free losses) and a progress callback."""

    model: torch.nn.Module
    data: TokenizedData
    rows: list[PairRow]
    run_dir: Path
    device: torch.device
    pad_id: int
    ref: Tensor | None
    progress: Callable[[str, float], None]


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
    needs_full_reference = False  # True: `prepare` needs every pair's reference (the trainer computes it upfront)

    def __init__(self, cfg: RunConfig, objectives: list[str]) -> None:
        self.cfg = cfg
        self.objectives = objectives
        self.params = LossParams.from_config(cfg)
        self.needs_reference = not set(cfg.losses) <= REFERENCE_FREE

    @classmethod
    def train_rows(cls, cfg: RunConfig, rows: list[PairRow]) -> list[PairRow]:
        """The pairs this method trains and evaluates on (all of them; MODPO keeps its target's)."""
        return rows

    def prepare(self, ctx: MethodContext) -> None:
        """One-off work after the reference log-probs, before the optimizer is built."""

    def extra_parameters(self) -> list[torch.nn.Parameter]:
        """Trainable parameters beyond the LoRA adapter (MAH-DPO's heads); the trainer optimises them too."""
        return []

    def save_files(self, folder: Path) -> None:
        """Write this method's own state next to the adapter in a checkpoint folder."""

    def load_files(self, folder: Path) -> None:
        """Restore what `save_files` wrote (on resume)."""

    def policy_logps(self, model: torch.nn.Module, batch: Batch) -> SeqLogps:
        return sequence_logps(model, batch, chunk_tokens=self.cfg.logprob_chunk, with_wpo=self.cfg.wpo,
                              share_prompt=self.cfg.prefix_sharing)

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


class MahDpoMethod(Method):
    """MAH-DPO (arXiv 2510.01167) on a LoRA trunk: objective k's pairs are scored with head k (a low-rank
    hidden-space delta on the frozen output head, workbench.training.preference.heads) and trained by the chosen DPO-family
    loss L_k; total = mean over the objectives present in the batch of L_k (LOSSES.md "Multi-objective").

    The body runs once per batch; each row's completion tokens go through its own objective's head only (never
    all K heads on all tokens). The reference is the base (adapter disabled, base head): one cached table shared
    by every head, since every head starts as the base head (B = 0)."""

    name = "mah_dpo"

    def __init__(self, cfg: RunConfig, objectives: list[str]) -> None:
        super().__init__(cfg, objectives)
        if cfg.head_rank < 1:
            raise RunError("head_rank must be at least 1")
        self.heads: ObjectiveHeads | None = None

    def prepare(self, ctx: MethodContext) -> None:
        weight = output_head(ctx.model).weight
        if self.cfg.head_type == "full":  # the paper's variant: a full copy of the head per objective
            self.heads = FullObjectiveHeads(self.objectives, weight).to(ctx.device)
            return
        self.heads = ObjectiveHeads(self.objectives, weight.shape[1], self.cfg.head_rank,
                                    seed=self.cfg.seed).to(ctx.device)

    def extra_parameters(self) -> list[torch.nn.Parameter]:
        return list(self._heads().parameters())

    def _heads(self) -> ObjectiveHeads | FullObjectiveHeads:
        if self.heads is None:
            raise RuntimeError("MahDpoMethod.prepare() has not run")
        return self.heads

    def policy_logps(self, model: torch.nn.Module, batch: Batch) -> SeqLogps:
        heads = self._heads()
        row_objective = batch.objective.repeat(2)  # [2B]: chosen rows then rejected rows share the pair's objective

        if isinstance(heads, FullObjectiveHeads):
            def row_head(h: Tensor, rows: Tensor) -> Tensor:  # each row through its objective's full head
                k_of = row_objective[rows]
                out = h.new_zeros(h.shape[0], heads.vocab)
                for k in torch.unique(k_of).tolist():
                    idx = (k_of == k).nonzero(as_tuple=True)[0]
                    out = out.index_copy(0, idx, heads.logits(h[idx], k))
                return out

            return sequence_logps(model, batch, chunk_tokens=self.cfg.logprob_chunk, with_wpo=self.cfg.wpo,
                                  row_head=row_head)

        def head_input(h: Tensor, rows: Tensor) -> Tensor:
            k_of = row_objective[rows]
            out = h
            for k in torch.unique(k_of).tolist():  # one matmul per objective present in the chunk
                idx = (k_of == k).nonzero(as_tuple=True)[0]
                out = out.index_add(0, idx, heads.delta(h[idx], k))
            return out

        return sequence_logps(model, batch, chunk_tokens=self.cfg.logprob_chunk, with_wpo=self.cfg.wpo,
                              head_input=head_input, share_prompt=self.cfg.prefix_sharing)

    def loss(self, lp: SeqLogps, ref: Tensor | None, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        with torch.no_grad():
            _, metrics = preference_loss(self.cfg.losses, logp_batch(lp, ref, batch), self.params)
        parts = []
        for _, name, sub, sub_metrics in self._per_objective(lp, ref, batch):
            parts.append(sub)
            metrics.update(_prefixed(name, sub, sub_metrics))
        total = torch.stack(parts).mean()
        metrics["loss"] = total.item()
        return total, metrics

    def save_files(self, folder: Path) -> None:
        self._heads().save(folder)

    def load_files(self, folder: Path) -> None:
        heads = self._heads()
        if not has_heads(folder):
            raise RunError(f"checkpoint {folder} has no MAH-DPO heads; resume it with the method it was trained with")
        saved = load_heads(folder)
        if (saved.objectives != heads.objectives or saved.kind != heads.kind
                or [p.shape for p in saved.parameters()] != [p.shape for p in heads.parameters()]):
            raise RunError(f"the heads in {folder / HEADS_CONFIG} ({', '.join(saved.objectives)}, {saved.kind}, rank "
                           f"{saved.rank}) do not match this run ({', '.join(heads.objectives)}, {heads.kind}, rank "
                           f"{heads.rank})")
        heads.load_weights(folder)


class ModpoMethod(Method):
    """MODPO (Zhou et al. 2024): DPO on cfg.modpo_target's pairs with the margin Σ_j w_j·Δr_j of the other
    objectives' rewards, precomputed once (workbench.training.preference.modpo). Metrics rewards/* are the plain implicit
    rewards of the policy (comparable with other runs); `modpo/margin` is the mean margin of the batch."""

    name = "modpo"

    @classmethod
    def train_rows(cls, cfg: RunConfig, rows: list[PairRow]) -> list[PairRow]:
        problems = modpo_problems(cfg)
        if problems:
            raise RunError("; ".join(problems))
        kept = [r for r in rows if r.objective == cfg.modpo_target]
        if not kept:
            raise RunError(f"no pairs labelled for the MODPO target objective {cfg.modpo_target}; label some or "
                           "choose another modpo_target")
        return kept

    def __init__(self, cfg: RunConfig, objectives: list[str]) -> None:
        super().__init__(cfg, objectives)
        self.needs_reference = self.needs_full_reference = True  # adapter margins and the shifted loss are relative to the reference
        self.w_target, self.w_margin = modpo_weights(cfg)
        self.margins: Tensor | None = None

    def prepare(self, ctx: MethodContext) -> None:
        def progress(done: int, total: int) -> None:
            ctx.progress("computing MODPO margins", done / max(1, total))

        self.margins = margin_table(ctx.model, ctx.data, ctx.rows, ctx.ref, self.cfg, ctx.run_dir,
                                    pad_id=ctx.pad_id, progress=progress).to(ctx.device)

    def loss(self, lp: SeqLogps, ref: Tensor | None, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        if self.margins is None:
            raise RuntimeError("ModpoMethod.prepare() has not run")
        plain = logp_batch(lp, ref, batch)
        margin = self.margins[batch.index] @ self.w_margin.to(self.margins.device)  # Σ_j w_j Δr_j, [B]
        shifted, params = modpo_shift(plain, margin, self.w_target, self.params)
        loss, _ = preference_loss(self.cfg.losses, shifted, params)
        with torch.no_grad():
            _, metrics = preference_loss(self.cfg.losses, plain, self.params)
        metrics["loss"] = loss.item()
        metrics["modpo/margin"] = float(margin.mean())
        metrics.update(_prefixed(self.cfg.modpo_target, loss, metrics))
        return loss, metrics


METHODS: dict[str, type[Method]] = {"dpo": Method, "weighted": WeightedMethod, "mah_dpo": MahDpoMethod,
                                    "modpo": ModpoMethod}


def method_class(cfg: RunConfig) -> type[Method]:
    """The Method class for cfg.method; a RunError names the methods this build can train."""
    if cfg.method not in METHODS:
        raise RunError(f"method {cfg.method!r} is not available in this build; choose one of {', '.join(METHODS)}")
    return METHODS[cfg.method]


def make_method(cfg: RunConfig, objectives: list[str]) -> Method:
    return method_class(cfg)(cfg, objectives)
