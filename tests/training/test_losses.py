"""Preference losses: every loss against hand-computed numbers (python `math`, not torch), the combinators
(weights / MPO, RPO, WPO, f-divergences), metrics, and agreement with TRL 1.16's own loss code."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.preference.losses import (
    LOSSES,
    REFERENCE_FREE,
    LogpBatch,
    LossParams,
    log_ratios,
    loss_problems,
    preference_loss,
    wpo_weights,
)

LN2 = math.log(2)


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def logsig(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def batch(rows: list[tuple[float, ...]], weights: list[float] | None = None, ref: bool = True) -> LogpBatch:
    """rows of (pc, pr, rc, rr, nc, nr) -> float64 LogpBatch."""
    cols = [torch.tensor(c, dtype=torch.float64) for c in zip(*rows)]
    return LogpBatch(cols[0], cols[1], cols[2] if ref else None, cols[3] if ref else None, cols[4], cols[5],
                     None if weights is None else torch.tensor(weights, dtype=torch.float64))


# (pc, pr, rc, rr, nc, nr): a clear win, a loss, a near tie with a 0-token completion, long completions.
ROWS = [(-12.0, -20.0, -14.0, -17.0, 6, 9), (-30.0, -25.0, -28.0, -27.5, 12, 10),
        (-5.0, -5.5, -5.2, -5.4, 3, 0), (-80.0, -95.0, -70.0, -90.0, 40, 50)]
B, EPS = 0.1, 0.2


def hand(name: str, pc: float, pr: float, rc: float, rr: float, nc: float, nr: float,
         beta: float = B, eps: float = EPS, gamma: float = 0.05, lam: float = 0.1, tau: float = 0.05) -> float:
    """LOSSES.md's per-pair formulas, written out in scalar python."""
    lc, lr = pc - rc, pr - rr
    z = beta * (lc - lr)
    nc1, nr1 = max(nc, 1), max(nr, 1)
    if name == "sigmoid":
        return -logsig(z)
    if name == "cdpo":
        return -(1 - eps) * logsig(z) - eps * logsig(-z)
    if name == "robust":
        return (-(1 - eps) * logsig(z) + eps * logsig(-z)) / (1 - 2 * eps)
    if name == "hinge":
        return max(0.0, 1 - z)
    if name == "ipo":
        return (lc / nc1 - lr / nr1 - 1 / (2 * beta)) ** 2
    if name == "exo_pair":
        return sig(z) * (logsig(z) - math.log(1 - eps)) + sig(-z) * (logsig(-z) - math.log(eps))
    if name == "nca_pair":
        return -logsig(beta * lc) - 0.5 * logsig(-beta * lc) - 0.5 * logsig(-beta * lr)
    if name == "bco_pair":
        return -logsig(beta * lc) - logsig(-beta * lr)
    if name == "sppo_hard":
        return (lc - 1 / (2 * beta)) ** 2 + (lr + 1 / (2 * beta)) ** 2
    if name == "apo_zero":
        return (1 - sig(beta * lc)) + sig(beta * lr)
    if name == "apo_down":
        return sig(beta * lc) + (1 - sig(beta * (lc - lr)))
    if name == "discopop":
        m = sig(z / tau)
        return (1 - m) * -logsig(z) + m * math.exp(-z)
    if name == "sigmoid_norm":
        return -logsig(beta * (lc / nc1 - lr / nr1))
    if name == "simpo":
        return -logsig(beta * (pc / nc1 - pr / nr1) - gamma)
    if name == "orpo":
        ac, ar = pc / nc1, pr / nr1
        p_c, p_r = math.exp(ac), math.exp(ar)
        return -ac - lam * logsig(math.log(p_c / (1 - p_c)) - math.log(p_r / (1 - p_r)))
    raise KeyError(name)


PER_PAIR = sorted(set(LOSSES) - {"aot", "aot_unpaired", "sft"})


def test_registry_holds_exactly_the_losses_md_names():
    assert set(LOSSES) == {"sigmoid", "cdpo", "robust", "hinge", "ipo", "exo_pair", "nca_pair", "bco_pair",
                           "sppo_hard", "aot", "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm",
                           "sft", "simpo", "orpo"}
    assert REFERENCE_FREE == {"simpo", "orpo", "sft"}
    assert all(LOSSES[n].__doc__ and "20" in LOSSES[n].__doc__ for n in LOSSES)  # each cites a dated paper


@pytest.mark.parametrize("name", PER_PAIR)
def test_per_pair_loss_equals_hand_formula(name):
    params = LossParams(beta=B, label_smoothing=EPS, simpo_gamma=0.05, orpo_lambda=0.1, discopop_tau=0.05)
    got = LOSSES[name](batch(ROWS), params)
    assert got.shape == (len(ROWS),)
    assert got.tolist() == pytest.approx([hand(name, *r) for r in ROWS], rel=1e-12, abs=1e-12)


# Policy == reference (zero-initialised adapter): closed-form values, β = 0.1, ε = 0.2.
AT_ZERO = {
    "sigmoid": LN2, "cdpo": LN2, "robust": LN2, "hinge": 1.0, "ipo": 25.0, "sppo_hard": 50.0,
    "nca_pair": 2 * LN2, "bco_pair": 2 * LN2, "apo_zero": 1.0, "apo_down": 1.0, "discopop": 0.5 * LN2 + 0.5,
    "sigmoid_norm": LN2, "aot": LN2, "aot_unpaired": LN2,
    "exo_pair": 0.5 * (-LN2 - math.log(0.8)) + 0.5 * (-LN2 - math.log(0.2)),
}


@pytest.mark.parametrize("name", sorted(AT_ZERO))
def test_policy_equal_reference_gives_closed_form(name):
    rows = [(-7.0, -9.0, -7.0, -9.0, 4, 5), (-3.0, -1.5, -3.0, -1.5, 2, 1)]
    got = LOSSES[name](batch(rows), LossParams(beta=B, label_smoothing=EPS))
    assert got.tolist() == pytest.approx([AT_ZERO[name]] * 2, rel=1e-12)


def test_reference_free_losses_at_a_tie_and_without_reference():
    rows = [(-6.0, -3.0, 0, 0, 3, 3 / 2)]  # equal mean token log-prob −2 on both sides
    b = batch(rows, ref=False)
    assert b.rc is None and b.rr is None
    p = LossParams(beta=2.0, simpo_gamma=1.0, orpo_lambda=0.5)
    assert LOSSES["simpo"](b, p).item() == pytest.approx(math.log1p(math.e))  # −logσ(−γ), γ = 1
    assert LOSSES["orpo"](b, p).item() == pytest.approx(2.0 + 0.5 * LN2)
    assert LOSSES["sft"](b, p).tolist() == pytest.approx([9.0 / 4.5])
    with pytest.raises(RunError, match="reference"):
        LOSSES["sigmoid"](b, p)


def test_sft_is_the_batch_token_mean_expanded():
    got = LOSSES["sft"](batch(ROWS), LossParams())
    expected = -sum(r[0] for r in ROWS) / sum(r[4] for r in ROWS)  # 127 / 61
    assert got.tolist() == pytest.approx([expected] * len(ROWS), rel=1e-12)


def test_ipo_and_sigmoid_norm_clamp_counts_at_one():
    b = batch([(-2.0, -4.0, -1.0, -1.0, 0, 0)])
    assert LOSSES["ipo"](b, LossParams(beta=0.5)).item() == pytest.approx((-1.0 + 3.0 - 1.0) ** 2)
    assert LOSSES["sigmoid_norm"](b, LossParams(beta=0.5)).item() == pytest.approx(-logsig(0.5 * 2.0))


def test_exo_pair_without_label_smoothing_uses_1e_3():
    r = ROWS[0]
    got = LOSSES["exo_pair"](batch([r]), LossParams(beta=B, label_smoothing=0.0)).item()
    assert math.isfinite(got)
    assert got == pytest.approx(hand("exo_pair", *r, eps=1e-3), rel=1e-12)


def test_robust_is_unbiased_combination_and_cdpo_reduces_to_dpo():
    b = batch(ROWS)
    assert LOSSES["cdpo"](b, LossParams(label_smoothing=0.0)).tolist() == pytest.approx(
        LOSSES["sigmoid"](b, LossParams()).tolist())
    assert LOSSES["robust"](b, LossParams(label_smoothing=0.0)).tolist() == pytest.approx(
        LOSSES["sigmoid"](b, LossParams()).tolist())


def test_aot_sorts_margins_over_the_batch():
    rows = [(-1.0, -5.0, -2.0, -2.0, 1, 1), (-6.0, -2.0, -4.0, -6.0, 1, 1), (-3.0, -3.0, -1.0, -4.0, 1, 1)]
    # policy margins pc−pr: 4, −4, 0 -> sorted −4, 0, 4; reference margins rc−rr: 0, 2, 3 -> sorted 0, 2, 3
    d = [-4 - 0, 0 - 2, 4 - 3]
    expected = [-(1 - EPS) * logsig(B * x) - EPS * logsig(-B * x) for x in d]
    p = LossParams(beta=B, label_smoothing=EPS)
    assert LOSSES["aot"](batch(rows), p).tolist() == pytest.approx(expected, rel=1e-12)
    # unpaired: lc = 1, −2, −2 -> −2, −2, 1 ; lr = −3, 4, 1 -> −3, 1, 4
    d = [-2 + 3, -2 - 1, 1 - 4]
    expected = [-(1 - EPS) * logsig(B * x) - EPS * logsig(-B * x) for x in d]
    assert LOSSES["aot_unpaired"](batch(rows), p).tolist() == pytest.approx(expected, rel=1e-12)
    # pairwise DPO on the same rows differs: sorting is what makes it AOT
    assert LOSSES["aot"](batch(rows), p).mean().item() != pytest.approx(LOSSES["cdpo"](batch(rows), p).mean().item())


F_SCORES = {
    "reverse_kl": lambda u, a: u,
    "forward_kl": lambda u, a: 1 - math.exp(-u),
    "js_divergence": lambda u, a: LN2 + logsig(u),
    "alpha_divergence": lambda u, a: (math.exp((a - 1) * u) - 1) / (a - 1),
}


@pytest.mark.parametrize("div", sorted(F_SCORES))
def test_f_divergence_scores_replace_log_ratios(div):
    p = LossParams(beta=B, f_divergence=div, f_alpha=0.3)
    lc, lr = log_ratios(batch(ROWS), p)
    exp_c = [F_SCORES[div](r[0] - r[2], 0.3) for r in ROWS]
    exp_r = [F_SCORES[div](r[1] - r[3], 0.3) for r in ROWS]
    assert lc.tolist() == pytest.approx(exp_c, rel=1e-12) and lr.tolist() == pytest.approx(exp_r, rel=1e-12)
    sig_loss = LOSSES["sigmoid"](batch(ROWS), p).tolist()
    assert sig_loss == pytest.approx([-logsig(B * (c - r)) for c, r in zip(exp_c, exp_r)], rel=1e-12)
    # metrics keep the untransformed log-ratios, as TRL logs them
    _, m = preference_loss({"sigmoid": 1.0}, batch(ROWS), p)
    assert m["rewards/chosen"] == pytest.approx(B * sum(r[0] - r[2] for r in ROWS) / len(ROWS))


def test_alpha_divergence_at_alpha_one_is_reverse_kl_and_incompatible_losses_are_refused():
    b = batch(ROWS)
    one = LOSSES["sigmoid"](b, LossParams(f_divergence="alpha_divergence", f_alpha=1.0))
    assert one.tolist() == pytest.approx(LOSSES["sigmoid"](b, LossParams()).tolist())
    with pytest.raises(RunError, match="reverse_kl"):
        preference_loss({"bco_pair": 1.0}, b, LossParams(f_divergence="forward_kl"))


def test_mpo_combination_is_the_weighted_sum_of_means():
    mpo = {"sigmoid": 0.8, "bco_pair": 0.2, "sft": 1.0}
    total, m = preference_loss(mpo, batch(ROWS), LossParams(beta=B))
    n = len(ROWS)
    expected = (0.8 * sum(hand("sigmoid", *r) for r in ROWS) / n + 0.2 * sum(hand("bco_pair", *r) for r in ROWS) / n
                + 1.0 * -sum(r[0] for r in ROWS) / sum(r[4] for r in ROWS))
    assert total.item() == pytest.approx(expected, rel=1e-12)
    assert m["loss"] == pytest.approx(expected, rel=1e-12) and "nll_loss" not in m


def test_rpo_adds_alpha_times_chosen_token_nll():
    total, m = preference_loss({"sigmoid": 1.0}, batch(ROWS), LossParams(beta=B, rpo_alpha=0.5))
    nll = 127.0 / 61.0
    assert m["nll_loss"] == pytest.approx(nll, rel=1e-12)
    assert total.item() == pytest.approx(sum(hand("sigmoid", *r) for r in ROWS) / 4 + 0.5 * nll, rel=1e-12)


def test_wpo_weights_multiply_each_pairs_loss():
    w = [0.5, 2.0, 1.0, 0.25]
    total, _ = preference_loss({"hinge": 1.0, "sigmoid": 2.0}, batch(ROWS, weights=w), LossParams(beta=B))
    expected = sum(wi * (hand("hinge", *r) + 2 * hand("sigmoid", *r)) for wi, r in zip(w, ROWS)) / 4
    assert total.item() == pytest.approx(expected, rel=1e-12)
    assert loss_problems({"aot": 1.0}, LossParams(), wpo=True)


def test_wpo_weight_from_token_distributions():
    # one sequence of 3 positions (last one padding); token distributions written out by hand
    probs = [[0.7, 0.2, 0.1], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]
    picked = [0, 1, 2]
    logits = torch.log(torch.tensor(probs, dtype=torch.float64).clamp_min(1e-300))[None]
    logp = torch.log_softmax(logits, -1)
    token_logps = logp.gather(-1, torch.tensor(picked)[None, :, None]).squeeze(-1)
    lse_sq = torch.logsumexp(2 * logp, -1)
    w = wpo_weights(token_logps, lse_sq, torch.tensor([[1, 1, 0]]))
    per_token = [math.log(probs[t][picked[t]]) - math.log(sum(q * q for q in probs[t])) for t in range(2)]
    assert w.tolist() == pytest.approx([math.exp(sum(per_token) / 2)], rel=1e-9)
    assert not w.requires_grad
    assert wpo_weights(token_logps, lse_sq, torch.zeros(1, 3)).tolist() == [1.0]  # empty completion: neutral


def test_metrics_have_trl_names_and_values():
    _, m = preference_loss({"sigmoid": 1.0}, batch(ROWS), LossParams(beta=B))
    lcs = [r[0] - r[2] for r in ROWS]  # 2, −2, 0.2, −10
    lrs = [r[1] - r[3] for r in ROWS]  # −3, 2.5, −0.1, −5
    assert m["rewards/chosen"] == pytest.approx(B * sum(lcs) / 4)
    assert m["rewards/rejected"] == pytest.approx(B * sum(lrs) / 4)
    assert m["rewards/accuracies"] == pytest.approx(0.5)
    assert m["rewards/margins"] == pytest.approx(B * (sum(lcs) - sum(lrs)) / 4)
    assert m["logps/chosen"] == pytest.approx(-127 / 4) and m["logps/rejected"] == pytest.approx(-145.5 / 4)
    _, free = preference_loss({"simpo": 1.0}, batch(ROWS, ref=False), LossParams(beta=2.0))
    assert free["rewards/chosen"] == pytest.approx(2.0 * sum(r[0] / r[4] for r in ROWS) / 4)


def test_unknown_loss_and_bad_smoothing_are_readable_errors():
    with pytest.raises(RunError, match="unknown loss"):
        preference_loss({"dpo": 1.0}, batch(ROWS), LossParams())
    assert any("label_smoothing" in s for s in loss_problems({"robust": 1.0}, LossParams(label_smoothing=0.5)))
    assert loss_problems({"sigmoid": 0.8, "bco_pair": 0.2, "sft": 1.0}, LossParams()) == []


def test_from_config_expresses_simpo_gamma_in_units_of_beta():
    p = LossParams.from_config(RunConfig(beta=2.0, simpo_gamma=0.5, label_smoothing=0.1, rpo_alpha=0.3))
    assert (p.beta, p.simpo_gamma, p.label_smoothing, p.rpo_alpha) == (2.0, 1.0, 0.1, 0.3)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradients_are_finite_even_far_from_the_reference(name):
    rows = [(-0.01, -400.0, -50.0, -60.0, 1, 200), (-300.0, -0.02, -1.0, -2.0, 100, 1), (-4.0, -4.0, -4.0, -4.0, 2, 2)]
    b = batch(rows, ref=True)
    b.pc.requires_grad_(True)
    b.pr.requires_grad_(True)
    loss, _ = preference_loss({name: 1.0}, b, LossParams(beta=B, label_smoothing=EPS))
    grads = [g for g in torch.autograd.grad(loss, [b.pc, b.pr], allow_unused=True) if g is not None]
    assert math.isfinite(loss.item()) and grads
    assert all(torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


# ------------------------------------------------------------------------------------------------------------------
# Agreement with TRL 1.16: its DPOTrainer._compute_loss runs on a stand-in trainer whose "model" returns fixed
# per-token log-probs, so TRL's own code (not a copy of it) computes losses, WPO weights and metrics.

TRL_TYPES = ["sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
             "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm"]


@pytest.fixture(scope="module")
def trl_dpo():
    return pytest.importorskip("trl.trainer.dpo_trainer").DPOTrainer


def _token_batch(seed: int, b: int = 5, t: int = 9, dtype: torch.dtype = torch.float64):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, t - 1, (2 * b,), generator=g)
    mask = torch.zeros(2 * b, t, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        mask[i, 1:1 + n] = 1  # position 0 is the prompt
    shift = mask[:, 1:].to(dtype)
    logp = -torch.rand(2 * b, t - 1, generator=g, dtype=dtype) * 3 * shift
    lse_sq = -torch.rand(2 * b, t - 1, generator=g, dtype=dtype) * 2 * shift
    ref = (-torch.rand(2 * b, t - 1, generator=g, dtype=dtype) * 3 * shift).sum(1)
    return mask, logp, lse_sq, ref


def _run_trl(cls, types, weights, params: LossParams, mask, logp, lse_sq, ref, wpo: bool):
    model = SimpleNamespace(training=True)
    outputs = SimpleNamespace(log_probs=logp, entropy=torch.zeros_like(logp), mean_logits=torch.zeros_like(logp),
                              is_top1=torch.zeros_like(logp, dtype=torch.bool), log_sum_sq_probs=lse_sq)
    model_fn = lambda **kw: outputs  # noqa: E731
    acc = SimpleNamespace(device=torch.device("cpu"), gather=lambda x: x, gather_for_metrics=lambda x: x)
    fake = SimpleNamespace(
        model=model, accelerator=acc, beta=params.beta, precompute_ref_logps=True, loss_types=types,
        loss_weights=weights, ld_alpha=None, f_divergence_type=params.f_divergence,
        f_alpha_divergence_coef=params.f_alpha, label_smoothing=params.label_smoothing, use_weighting=wpo,
        aux_loss_enabled=False, args=SimpleNamespace(discopop_tau=params.discopop_tau),
        _metrics={"train": __import__("collections").defaultdict(list)}, _total_train_tokens=0, _tp_size=1)
    ref_c, ref_r = ref.chunk(2)
    inputs = {"input_ids": torch.zeros_like(mask), "attention_mask": torch.ones_like(mask), "completion_mask": mask,
              "ref_chosen_logps": ref_c, "ref_rejected_logps": ref_r}
    loss = cls._compute_loss(fake, model_fn, inputs, return_outputs=False)
    return loss.item(), {k: v[-1] for k, v in fake._metrics["train"].items()}


def _ours(types, weights, params, mask, logp, lse_sq, ref, wpo):
    sums, counts = logp.sum(1), mask[:, 1:].sum(1).to(logp.dtype)
    w = wpo_weights(logp, lse_sq, mask[:, 1:]) if wpo else None
    pc, pr = sums.chunk(2)
    rc, rr = ref.chunk(2)
    nc, nr = counts.chunk(2)
    b = LogpBatch(pc, pr, rc, rr, nc, nr, None if w is None else w.chunk(2)[0] * w.chunk(2)[1])
    total, metrics = preference_loss(dict(zip(types, weights)), b, params)
    return total.item(), metrics


@pytest.mark.parametrize("loss_type", TRL_TYPES)
def test_each_loss_agrees_with_trl(trl_dpo, loss_type):
    params = LossParams(beta=0.3, label_smoothing=0.15)
    data = _token_batch(seed=TRL_TYPES.index(loss_type))
    trl_loss, trl_m = _run_trl(trl_dpo, [loss_type], [1.0], params, *data, wpo=False)
    ours, m = _ours([loss_type], [1.0], params, *data, wpo=False)
    # TRL builds exo_pair's ε as an fp32 tensor (log ε to ~1e-8); we keep the inputs' fp64
    assert ours == pytest.approx(trl_loss, rel=1e-6 if loss_type == "exo_pair" else 1e-9, abs=1e-12)
    for key in ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen",
                "logps/rejected"):
        assert m[key] == pytest.approx(trl_m[key], rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize("div", ["forward_kl", "js_divergence", "alpha_divergence"])
def test_f_divergences_and_wpo_and_weights_agree_with_trl(trl_dpo, div):
    params = LossParams(beta=0.2, label_smoothing=0.1, f_divergence=div, f_alpha=0.4)
    data = _token_batch(seed=42, dtype=torch.float32)  # TRL's alpha-divergence accepts fp16/bf16/fp32 only
    # With WPO, TRL 1.16 crashes on "sft" (in-place product on its expanded scalar), so sft is compared unweighted.
    for wpo, types, weights in ((False, ["sigmoid", "ipo", "robust", "sft"], [0.8, 0.1, 0.3, 1.0]),
                                (True, ["sigmoid", "ipo", "robust", "hinge"], [0.8, 0.1, 0.3, 0.5])):
        trl_loss, _ = _run_trl(trl_dpo, types, weights, params, *data, wpo=wpo)
        ours, _ = _ours(types, weights, params, *data, wpo=wpo)
        assert ours == pytest.approx(trl_loss, rel=1e-5), wpo


def test_simpo_and_orpo_odds_agree_with_trl_experimental_trainers():
    cpo = pytest.importorskip("trl.experimental.cpo.cpo_trainer").CPOTrainer
    orpo_mod = pytest.importorskip("trl.experimental.orpo.orpo_trainer")
    b = batch(ROWS)
    nc, nr = b.nc.clamp(min=1), b.nr.clamp(min=1)
    acc = SimpleNamespace(device=torch.device("cpu"))
    fake = SimpleNamespace(alpha=0.0, loss_type="simpo", simpo_gamma=0.7, beta=2.0, label_smoothing=0.0,
                           accelerator=acc)
    trl_simpo = cpo.cpo_loss(fake, b.pc / nc, b.pr / nr)[0]
    assert LOSSES["simpo"](b, LossParams(beta=2.0, simpo_gamma=0.7)).tolist() == pytest.approx(trl_simpo.tolist())
    # TRL's ORPO returns λ·logσ(log odds ratio) per pair; its NLL is added separately.
    ratio = orpo_mod.ORPOTrainer.odds_ratio_loss(SimpleNamespace(beta=0.25, accelerator=acc), b.pc / nc, b.pr / nr)[0]
    ours = LOSSES["orpo"](b, LossParams(orpo_lambda=0.25)) - (-(b.pc / nc))
    assert ours.tolist() == pytest.approx((-ratio).tolist(), rel=1e-6)
