"""Building blocks shared by the preference losses (LOSSES.md): f-divergence scores, WPO weights, stable log-odds.

Kept apart from `losses.py` so that the loss table there reads as one formula per loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

F_DIVERGENCES = ("reverse_kl", "forward_kl", "js_divergence", "alpha_divergence")

# exp() arguments are clamped here before casting back, so alpha-divergence scores stay finite (as TRL 1.16 does).
_EXP_CLAMP = {torch.float16: 11.0, torch.bfloat16: 80.0, torch.float32: 80.0, torch.float64: 80.0}


def f_divergence_score(logratio: Tensor, divergence: str, alpha: float = 0.5) -> Tensor:
    """The score f'(π/π_ref) that replaces the log-ratio inside DPO's Δ.

    f-DPO (Wang et al. 2023, "Beyond Reverse KL: Generalizing Direct Preference Optimization with Diverse
    Divergence Constraints", arXiv:2309.16240, Thm. 1) shows that DPO's reward β·log(π/π_ref) generalises to
    β·f'(π/π_ref) for any f-divergence whose f' is invertible; with u = log(π/π_ref):

    - reverse_kl: f'(t) = log t + 1 → u (the constant cancels in Δ)
    - forward_kl: f'(t) = 1 − 1/t → 1 − exp(−u)
    - js_divergence: f'(t) = log(2t/(1+t)) → log 2 + logσ(u)
    - alpha_divergence: f'(t) = (t^(α−1) − 1)/(α−1) → (exp((α−1)u) − 1)/(α−1); α → 1 is reverse KL.

    The exponent is computed in at least fp32 and clamped at 80 (fp32/bf16/fp64) or 11 (fp16) as TRL 1.16 does, so
    a far-drifted policy gives a large finite score instead of inf.
    """
    if divergence == "reverse_kl":
        return logratio
    if divergence == "forward_kl":
        return 1 - torch.exp(-logratio)
    if divergence == "js_divergence":
        return math.log(2) + F.logsigmoid(logratio)
    if divergence == "alpha_divergence":
        if abs(alpha - 1.0) < 1e-6:
            return logratio
        work = torch.promote_types(logratio.dtype, torch.float32)  # at least fp32 inside exp (TRL: always fp32)
        t = torch.clamp(((alpha - 1.0) * logratio).to(work), max=_EXP_CLAMP[logratio.dtype])
        return (torch.exp(t) - 1.0).to(logratio.dtype) / (alpha - 1.0)
    raise ValueError(f"unknown f-divergence {divergence!r}; choose one of {', '.join(F_DIVERGENCES)}")


def wpo_weights(token_logps: Tensor, token_logsumexp_sq: Tensor, mask: Tensor) -> Tensor:
    """WPO per-sequence weight w = exp(mean_t[log p_t − log Σ_v p_v²]), shape [B] from per-token [B, T] inputs.

    Zhou et al. 2024, "WPO: Enhancing RLHF with Weighted Preference Optimization" (arXiv:2406.11827), Eq. 2:
    off-policy pairs are re-weighted by how likely the current policy is to produce them. The raw sequence
    probability Π_t p_t vanishes with length, so WPO uses the per-token geometric mean, and divides each token's
    probability by Σ_v p_v² (the probability that two samples from the token distribution agree). That
    normalisation makes a greedy-like (peaked) distribution and a flat one comparable: the weight is 1 when the
    sampled token has exactly the "expected" probability Σ_v p_v², i.e. when the response looks like a typical
    sample of the policy.

    - `token_logps`: log p_t of each completion token under the policy, [B, T].
    - `token_logsumexp_sq`: log Σ_v p_v² at each position = logsumexp(2·log_softmax(logits)), [B, T].
    - `mask`: 1 on completion tokens, 0 on prompt and padding, [B, T].

    Computed under no_grad: the weight scales the loss but is not itself optimised (TRL 1.16 does the same).
    """
    with torch.no_grad():
        mask = mask.to(token_logps.dtype)
        aligned = (token_logps - token_logsumexp_sq) * mask
        lengths = mask.sum(dim=-1).clamp_min(1)
        return torch.exp(aligned.sum(dim=-1) / lengths)


def log1mexp(x: Tensor) -> Tensor:
    """log(1 − exp(x)) for x < 0, accurate everywhere (Mächler 2012, "Accurately computing log(1 − exp(−|a|))").

    log1p(−exp(x)) loses precision as x → 0⁻ and log(−expm1(x)) as x → −∞; switching at −ln 2 keeps both
    branches — and their gradients — finite for every x < 0.
    """
    return torch.where(x < -math.log(2), torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def smoothed_logistic(z: Tensor, eps: float) -> Tensor:
    """−(1−ε)·logσ(z) − ε·logσ(−z): the logistic loss against labels flipped with probability ε.

    Conservative DPO (cDPO, Mitchell 2023, "A note on DPO with noisy preferences") and AOT's smoothed form.
    """
    return -(1 - eps) * F.logsigmoid(z) - eps * F.logsigmoid(-z)
