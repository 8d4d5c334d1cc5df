"""Preference losses of LOSSES.md as pure functions of per-pair log-probs, in one registry (`LOSSES`).

Every loss maps a `LogpBatch` (policy and reference SUM log-probs of the chosen / rejected completions, and their
token counts) to per-pair losses [B]; the batch loss is their mean. Names and numbers follow TRL 1.16's
`DPOTrainer` loss types (`tests/training/test_losses.py` runs TRL's own code on the same inputs), so a user can move
between the two. `preference_loss` adds the combinators: several weighted losses (e.g. MPO), RPO's NLL term and WPO
weights, and returns TRL-named metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.preference.loss_terms import (
    F_DIVERGENCES,
    f_divergence_score,
    log1mexp,
    smoothed_logistic,
    wpo_weights,
)

__all__ = [
    "LOSSES",
    "REFERENCE_FREE",
    "F_DIVERGENCE_LOSSES",
    "EXO_DEFAULT_EPS",
    "LogpBatch",
    "LossFn",
    "LossParams",
    "log_ratios",
    "loss_problems",
    "preference_loss",
    "wpo_weights",
]

EXO_DEFAULT_EPS = 1e-3  # EXO needs ε > 0 (log ε); Ji et al. 2024 recommend 1e-3.


@dataclass
class LogpBatch:
    """Per-pair inputs, every tensor of shape [B].

    pc, pr: policy log-probs of the chosen / rejected completion, summed over completion tokens.
    rc, rr: the same under the reference model (None for reference-free losses).
    nc, nr: completion token counts.
    weights: WPO per-pair weight w_chosen·w_rejected (see `wpo_weights`), computed by the engine under no_grad.
    """

    pc: Tensor
    pr: Tensor
    rc: Tensor | None
    rr: Tensor | None
    nc: Tensor
    nr: Tensor
    weights: Tensor | None = None


@dataclass(frozen=True)
class LossParams:
    """Loss hyper-parameters. `simpo_gamma` is SimPO's absolute margin γ (as in the paper and TRL), while
    `RunConfig.simpo_gamma` is γ in units of β: `from_config` multiplies the two."""

    beta: float = 0.1
    label_smoothing: float = 0.0
    f_divergence: str = "reverse_kl"
    f_alpha: float = 0.5
    simpo_gamma: float = 0.05
    orpo_lambda: float = 0.1
    discopop_tau: float = 0.05
    rpo_alpha: float = 0.0

    @classmethod
    def from_config(cls, cfg: RunConfig) -> LossParams:
        return cls(
            beta=cfg.beta,
            label_smoothing=cfg.label_smoothing,
            f_divergence=cfg.f_divergence,
            f_alpha=cfg.f_alpha,
            simpo_gamma=cfg.simpo_gamma * cfg.beta,
            orpo_lambda=cfg.orpo_lambda,
            discopop_tau=cfg.discopop_tau,
            rpo_alpha=cfg.rpo_alpha,
        )


LossFn = Callable[[LogpBatch, LossParams], Tensor]


def _reference(b: LogpBatch) -> tuple[Tensor, Tensor]:
    if b.rc is None or b.rr is None:
        raise RunError("this loss needs reference log-probs; choose simpo, orpo or sft to train without a reference")
    return b.rc, b.rr


def _raw_ratios(b: LogpBatch) -> tuple[Tensor, Tensor]:
    """lc = pc − rc, lr = pr − rr (plain log-ratios, no f-divergence)."""
    rc, rr = _reference(b)
    return b.pc - rc, b.pr - rr


def log_ratios(b: LogpBatch, params: LossParams) -> tuple[Tensor, Tensor]:
    """(lc, lr) after the f-divergence transform of f-DPO (Wang et al. 2023); `reverse_kl` is the identity."""
    lc, lr = _raw_ratios(b)
    return (f_divergence_score(lc, params.f_divergence, params.f_alpha),
            f_divergence_score(lr, params.f_divergence, params.f_alpha))


def _delta(b: LogpBatch, p: LossParams) -> Tensor:
    lc, lr = log_ratios(b, p)
    return lc - lr


def _counts(b: LogpBatch) -> tuple[Tensor, Tensor]:
    """Token counts as floats, clamped at 1 so an empty completion cannot divide by zero (TRL clamps too)."""
    return b.nc.to(b.pc.dtype).clamp(min=1.0), b.nr.to(b.pr.dtype).clamp(min=1.0)


def sigmoid(b: LogpBatch, p: LossParams) -> Tensor:
    """DPO, −logσ(βΔ). Rafailov et al. 2023, "Direct Preference Optimization", arXiv:2305.18290, Eq. 7."""
    return -F.logsigmoid(p.beta * _delta(b, p))


def cdpo(b: LogpBatch, p: LossParams) -> Tensor:
    """Conservative DPO: DPO against labels flipped with probability ε (older TRL's label-smoothed sigmoid).
    Mitchell 2023, "A note on DPO with noisy preferences & relationship to IPO"."""
    return smoothed_logistic(p.beta * _delta(b, p), p.label_smoothing)


def robust(b: LogpBatch, p: LossParams) -> Tensor:
    """Robust DPO: an unbiased estimate of the clean-label DPO loss under label noise rate ε ∈ [0, 0.5).
    Chowdhury et al. 2024, "Provably Robust DPO", arXiv:2403.00409 (the unbiased loss of §3)."""
    z, eps = p.beta * _delta(b, p), p.label_smoothing
    return (-(1 - eps) * F.logsigmoid(z) + eps * F.logsigmoid(-z)) / (1 - 2 * eps)


def hinge(b: LogpBatch, p: LossParams) -> Tensor:
    """SLiC hinge, relu(1 − βΔ). Zhao et al. 2023, "SLiC-HF: Sequence Likelihood Calibration with Human
    Feedback", arXiv:2305.10425 (calibration hinge; margin δ = 1/β, the reference log-ratio as in TRL)."""
    return torch.relu(1 - p.beta * _delta(b, p))


def ipo(b: LogpBatch, p: LossParams) -> Tensor:
    """IPO, (lc/nc − lr/nr − 1/(2β))². Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning
    from Human Preferences", arXiv:2310.12036, Eq. 17 (β is the paper's τ). Length-normalised as TRL does (the
    IPO authors' own setup), so β means the same for short and long completions."""
    lc, lr = log_ratios(b, p)
    nc, nr = _counts(b)
    return (lc / nc - lr / nr - 1 / (2 * p.beta)) ** 2


def exo_pair(b: LogpBatch, p: LossParams) -> Tensor:
    """EXO-pref: KL(p_θ ‖ p_label) over {chosen, rejected} with p_θ = softmax of βΔ and p_label = (1−ε, ε).
    Ji et al. 2024, "Towards Efficient Exact Optimization of Language Model Alignment", arXiv:2402.00856, Eq. 16.
    log ε needs ε > 0: with label_smoothing 0 we use the paper's 1e-3 (TRL refuses instead)."""
    z = p.beta * _delta(b, p)
    eps = torch.tensor(p.label_smoothing if p.label_smoothing > 0 else EXO_DEFAULT_EPS, dtype=z.dtype)
    return (torch.sigmoid(z) * (F.logsigmoid(z) - torch.log1p(-eps))
            + torch.sigmoid(-z) * (F.logsigmoid(-z) - torch.log(eps)))


def nca_pair(b: LogpBatch, p: LossParams) -> Tensor:
    """NCA: pushes the chosen reward up in absolute terms, not only relative to the rejected one. Chen et al. 2024,
    "Noise Contrastive Alignment of Language Models with Explicit Rewards", arXiv:2402.05369 (NCA for K = 2 responses)."""
    lc, lr = _raw_ratios(b)
    return -F.logsigmoid(p.beta * lc) - 0.5 * F.logsigmoid(-p.beta * lc) - 0.5 * F.logsigmoid(-p.beta * lr)


def bco_pair(b: LogpBatch, p: LossParams) -> Tensor:
    """BCO on pairs: chosen and rejected classified separately by their implicit rewards (reward shift δ = 0).
    Jung et al. 2024, "Binary Classifier Optimization for Large Language Model Alignment", arXiv:2404.04656."""
    lc, lr = _raw_ratios(b)
    return -F.logsigmoid(p.beta * lc) - F.logsigmoid(-p.beta * lr)


def sppo_hard(b: LogpBatch, p: LossParams) -> Tensor:
    """SPPO with hard win probabilities (1 for chosen, 0 for rejected): squared error of each log-ratio to ±1/(2β).
    Wu et al. 2024, "Self-Play Preference Optimization for Language Model Alignment", arXiv:2405.00675, Eq. 4.7."""
    lc, lr = _raw_ratios(b)
    return (lc - 0.5 / p.beta) ** 2 + (lr + 0.5 / p.beta) ** 2


def aot(b: LogpBatch, p: LossParams) -> Tensor:
    """AOT (paired): first-order stochastic dominance of the policy's chosen-rejected margins over the
    reference's, via the 1-D optimal transport plan = sorting both over the batch. Melnyk et al. 2024,
    "Distributional Preference Alignment of LLMs via Optimal Transport", arXiv:2406.05882 (paired AOT with the logistic loss,
    label-smoothed as in TRL). The per-pair losses are of sorted quantiles, not of the input order."""
    rc, rr = _reference(b)
    d = torch.sort(b.pc - b.pr, dim=0).values - torch.sort(rc - rr, dim=0).values
    return smoothed_logistic(p.beta * d, p.label_smoothing)


def aot_unpaired(b: LogpBatch, p: LossParams) -> Tensor:
    """AOT (unpaired): chosen log-ratios should dominate rejected log-ratios in distribution; quantiles matched by
    sorting each over the batch. Melnyk et al. 2024, arXiv:2406.05882."""
    lc, lr = _raw_ratios(b)
    d = torch.sort(lc, dim=0).values - torch.sort(lr, dim=0).values
    return smoothed_logistic(p.beta * d, p.label_smoothing)


def apo_zero(b: LogpBatch, p: LossParams) -> Tensor:
    """APO-zero: raise the chosen and lower the rejected likelihood (chosen better than the model's own output).
    D'Oosterlinck et al. 2024, "Anchored Preference Optimization and Contrastive Revisions", arXiv:2408.06266,
    Eq. 7."""
    lc, lr = _raw_ratios(b)
    return (1 - torch.sigmoid(p.beta * lc)) + torch.sigmoid(p.beta * lr)


def apo_down(b: LogpBatch, p: LossParams) -> Tensor:
    """APO-down: lower both likelihoods, the rejected more (chosen worse than the model's own output).
    D'Oosterlinck et al. 2024, arXiv:2408.06266, Eq. 8."""
    lc, lr = _raw_ratios(b)
    return torch.sigmoid(p.beta * lc) + (1 - torch.sigmoid(p.beta * (lc - lr)))


def discopop(b: LogpBatch, p: LossParams) -> Tensor:
    """DiscoPOP (log-ratio modulated loss): blends the logistic loss with exp(−z) by m = σ(z/τ).
    Chris Lu et al. 2024, "Discovering Preference Optimization Algorithms with and for Large Language Models",
    arXiv:2406.08414, Eq. 5."""
    z = p.beta * _delta(b, p)
    m = torch.sigmoid(z / p.discopop_tau)
    return (1 - m) * -F.logsigmoid(z) + m * torch.exp(-z)


def sigmoid_norm(b: LogpBatch, p: LossParams) -> Tensor:
    """Length-normalised DPO, −logσ(β(lc/nc − lr/nr)): removes DPO's bias toward long completions (TRL 1.16's
    `sigmoid_norm`; the same per-token normalisation as SimPO, Meng et al. 2024, but keeping the reference)."""
    lc, lr = log_ratios(b, p)
    nc, nr = _counts(b)
    return -F.logsigmoid(p.beta * (lc / nc - lr / nr))


def sft(b: LogpBatch, p: LossParams) -> Tensor:
    """Token-level NLL of the chosen completions, −(Σ pc)/(Σ nc), the SFT term of MPO (Wang et al. 2024,
    "Enhancing the Reasoning Ability of Multimodal LLMs via Mixed Preference Optimization", arXiv:2411.10442).

    It is one batch scalar, not a per-pair mean: it is returned expanded to [B] (every entry equal), so that its
    mean is the scalar and it combines with the per-pair losses like any other (TRL 1.16 does the same)."""
    total = -b.pc.sum() / b.nc.to(b.pc.dtype).sum().clamp(min=1.0)
    return total.expand(b.pc.shape[0])


def simpo(b: LogpBatch, p: LossParams) -> Tensor:
    """SimPO, −logσ(β(pc/nc − pr/nr) − γ): the average log-prob is the reward, so no reference model is needed.
    Meng et al. 2024, "SimPO: Simple Preference Optimization with a Reference-Free Reward", arXiv:2405.14734,
    Eq. 6. γ = `params.simpo_gamma` (absolute)."""
    nc, nr = _counts(b)
    return -F.logsigmoid(p.beta * (b.pc / nc - b.pr / nr) - p.simpo_gamma)


def orpo(b: LogpBatch, p: LossParams) -> Tensor:
    """ORPO, −pc/nc + λ·(−logσ(log odds(c) − log odds(r))), odds(y) = p/(1−p), p = exp(p_y/n_y).
    Hong et al. 2024, "ORPO: Monolithic Preference Optimization without Reference Model", arXiv:2403.07691,
    Eqs. 4 and 7. log odds = a − log(1 − exp(a)) with a = mean token log-prob < 0, via `log1mexp` so p → 1 or → 0
    stay finite. The NLL is per pair (LOSSES.md); TRL's ORPOTrainer uses the batch token mean instead, which is
    the same number when all chosen completions have equal length."""
    nc, nr = _counts(b)
    ac, ar = b.pc / nc, b.pr / nr
    log_odds = (ac - ar) - (log1mexp(ac) - log1mexp(ar))
    return -ac - p.orpo_lambda * F.logsigmoid(log_odds)


LOSSES: dict[str, LossFn] = {
    "sigmoid": sigmoid, "cdpo": cdpo, "robust": robust, "hinge": hinge, "ipo": ipo, "exo_pair": exo_pair,
    "nca_pair": nca_pair, "bco_pair": bco_pair, "sppo_hard": sppo_hard, "aot": aot, "aot_unpaired": aot_unpaired,
    "apo_zero": apo_zero, "apo_down": apo_down, "discopop": discopop, "sigmoid_norm": sigmoid_norm, "sft": sft,
    "simpo": simpo, "orpo": orpo,
}
REFERENCE_FREE = frozenset({"simpo", "orpo", "sft"})
# f-DPO's reparameterisation leaves a β·log Z(x) term that cancels only in a chosen − rejected difference, so only
# these losses have an f-divergence form (TRL 1.16's list, plus cdpo; reference-free losses ignore the setting).
F_DIVERGENCE_LOSSES = frozenset({"sigmoid", "cdpo", "robust", "hinge", "ipo", "exo_pair", "discopop",
                                 "sigmoid_norm"}) | REFERENCE_FREE
_SORTING = frozenset({"aot", "aot_unpaired"})


def loss_problems(losses: dict[str, float], params: LossParams, *, wpo: bool = False) -> list[str]:
    """Readable reasons this loss setup cannot train (empty when it can); the worker checks before step 1."""
    out: list[str] = []
    unknown = sorted(set(losses) - set(LOSSES))
    if unknown:
        out.append(f"unknown loss(es) {', '.join(unknown)}; choose from {', '.join(LOSSES)}")
    if not losses:
        out.append("choose at least one loss")
    if any(w < 0 for w in losses.values()):
        out.append("loss weights must be >= 0")
    if params.f_divergence not in F_DIVERGENCES:
        out.append(f"f_divergence must be one of {', '.join(F_DIVERGENCES)}")
    elif params.f_divergence != "reverse_kl" and not set(losses) <= F_DIVERGENCE_LOSSES:
        bad = ", ".join(sorted(set(losses) - F_DIVERGENCE_LOSSES))
        out.append(f"f_divergence {params.f_divergence} does not apply to {bad}; use reverse_kl with these losses")
    if not 0 <= params.label_smoothing < 0.5:
        out.append("label_smoothing must be in [0, 0.5)")
    if wpo and set(losses) & _SORTING:
        out.append("WPO weighting cannot be used with aot losses (they sort pairs, so the weights would not match)")
    return out


def _metrics(b: LogpBatch, beta: float) -> dict[str, float]:
    """TRL's reward metrics, from the untransformed log-ratios. Without a reference (simpo / orpo / sft) the
    reward is β·(mean token log-prob), as TRL's CPO and ORPO trainers log it."""
    with torch.no_grad():
        if b.rc is not None and b.rr is not None:
            rc, rr = _raw_ratios(b)
        else:
            nc, nr = _counts(b)
            rc, rr = b.pc / nc, b.pr / nr
        rc, rr = beta * rc.double(), beta * rr.double()
        return {
            "rewards/chosen": rc.mean().item(),
            "rewards/rejected": rr.mean().item(),
            "rewards/accuracies": (rc > rr).float().mean().item(),
            "rewards/margins": (rc - rr).mean().item(),
            "logps/chosen": b.pc.double().mean().item(),
            "logps/rejected": b.pr.double().mean().item(),
        }


def preference_loss(losses: dict[str, float], b: LogpBatch, params: LossParams) -> tuple[Tensor, dict[str, float]]:
    """The training objective: Σ_t weight_t · mean(loss_t · WPO weights) + rpo_alpha · NLL(chosen), and metrics.

    - Several weighted losses make e.g. MPO = {sigmoid: 0.8, bco_pair: 0.2, sft: 1.0} (Wang et al. 2024).
    - `b.weights` (WPO, Zhou et al. 2024) multiply every pair's loss, as TRL 1.16 does.
    - RPO adds α·(−Σpc/Σnc), the token-mean NLL of the chosen completions. Pang et al. 2024, "Iterative
      Reasoning Preference Optimization", arXiv:2404.19733; logged as `nll_loss`.
    Raises RunError (a one-line message) for a setup `loss_problems` rejects.
    """
    problems = loss_problems(losses, params, wpo=b.weights is not None)
    if problems:
        raise RunError("; ".join(problems))
    total = b.pc.new_zeros(())
    for name, weight in losses.items():
        per_pair = LOSSES[name](b, params)
        if b.weights is not None:
            per_pair = per_pair * b.weights.detach()
        total = total + weight * per_pair.mean()
    metrics: dict[str, float] = {}
    if params.rpo_alpha:
        nll = sft(b, params)[0]
        total = total + params.rpo_alpha * nll
        metrics["nll_loss"] = nll.item()
    metrics["loss"] = total.item()
    metrics.update(_metrics(b, params.beta))
    return total, metrics
