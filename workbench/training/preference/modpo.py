"""MODPO: multi-objective DPO with margins from the other objectives' rewards (DESIGN.md §5, LOSSES.md).

Zhou et al. 2024, "Beyond One-Preference-Fits-All Alignment: Multi-Objective Direct Preference Optimization"
(ACL Findings; ZHZisZZ/modpo, `modpo_loss`). For the target objective 0 with weights w (Σw = 1) and margin
rewards r_1..r_{K-1}, each pair of objective 0's preferences is trained with

    L = −logσ( (1/w_0)·( βΔ − Σ_{j≥1} w_j·(r_j(chosen) − r_j(rejected)) ) ),   Δ = (pc − rc) − (pr − rr).

A margin reward is either the implicit reward of an earlier run's adapter, r_j(y) = β_j·(log π_j(y|x) −
log π_ref(y|x)) (MODPO's `ImplicitRewardWrapper`; π_ref = the base with adapters disabled, the same reference the
run uses; a mah_dpo checkpoint scores with its head for objective j; β_j = the β that run trained with), or a
scorer function's value (negated for a "minimize" scorer, so that higher is always better).
Neither depends on the policy, so the per-pair differences Δr_j = r_j(chosen) − r_j(rejected) are computed once
before training and cached in run_dir/modpo_margins.pt with a fingerprint (reused on resume).

The loss is any Δ-only loss of LOSSES.md evaluated at the MODPO logit: writing m = Σ_j w_j Δr_j,
(1/w_0)(βΔ − m) = β'·Δ' with β' = β/w_0 and Δ' = Δ − m/β, i.e. the reference log-prob of the chosen completion
shifted by m/β. `modpo_shift` makes that batch, so `sigmoid` gives MODPO's loss and `hinge` its hinge variant.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.core.scorer_trust import trusted_from_env, trusted_registry
from workbench.core.scorers import Scorer
from workbench.training.engine.data import PairRow, TokenizedData, _as_text
from workbench.training.parallel.distributed import is_main_process
from workbench.training.preference.heads import ObjectiveHeads, has_heads, heads_kind
from workbench.training.engine.logprobs import HeadInput
from workbench.training.preference.losses import LogpBatch, LossParams
from workbench.training.engine.reference import data_fingerprint, logps_table

MARGINS_FILE = "modpo_margins.pt"
# Losses that are functions of βΔ alone (plus sft, which ignores the reference): for these the shifted batch is
# exactly the MODPO objective. Length-normalised or per-side losses (ipo, bco_pair, ...) have no MODPO form.
MODPO_LOSSES = frozenset({"sigmoid", "cdpo", "robust", "hinge", "exo_pair", "discopop", "sft"})
Progress = Callable[[int, int], None]


def margin_objectives(cfg: RunConfig) -> list[str]:
    """The objectives that give margins, in a fixed order (adapters' and scorers' keys, sorted)."""
    return sorted(set(cfg.margin_adapters) | set(cfg.margin_scorers))


def modpo_problems(cfg: RunConfig) -> list[str]:
    """Readable reasons this MODPO setup cannot train (empty when it can)."""
    out: list[str] = []
    if not cfg.modpo_target:
        out.append("MODPO needs modpo_target: the objective whose pairs are trained on")
    margins = margin_objectives(cfg)
    if not margins:
        out.append("MODPO needs at least one margin: margin_adapters (objective -> adapter folder of an earlier "
                   "run) or margin_scorers (objective -> scorer name)")
    both = sorted(set(cfg.margin_adapters) & set(cfg.margin_scorers))
    if both:
        out.append(f"objective(s) {', '.join(both)} have both a margin adapter and a margin scorer; keep one")
    if cfg.modpo_target in margins:
        out.append(f"the target objective {cfg.modpo_target} cannot also give a margin")
    bad = sorted(set(cfg.losses) - MODPO_LOSSES)
    if bad:
        out.append(f"MODPO works with {', '.join(sorted(MODPO_LOSSES))}; remove {', '.join(bad)}")
    if cfg.f_divergence != "reverse_kl":
        out.append("MODPO needs f_divergence reverse_kl")
    for obj, folder in cfg.margin_adapters.items():
        if not (Path(folder) / "adapter_config.json").is_file():
            out.append(f"margin adapter for {obj}: {folder} is not an adapter folder (no adapter_config.json)")
    if cfg.modpo_target and margins and modpo_weights(cfg)[0] <= 0:
        out.append(f"the weight of the target objective {cfg.modpo_target} must be > 0")
    return out


def modpo_weights(cfg: RunConfig) -> tuple[float, Tensor]:
    """(w_0, [w_j for margin_objectives]) normalised over the target and the margin objectives (Σw = 1)."""
    w = cfg.normalised_weights([cfg.modpo_target, *margin_objectives(cfg)])
    return w[cfg.modpo_target], torch.tensor([w[o] for o in margin_objectives(cfg)], dtype=torch.float64)


def modpo_shift(b: LogpBatch, margin: Tensor, w_target: float, params: LossParams) -> tuple[LogpBatch, LossParams]:
    """The batch and params whose Δ-loss is the MODPO loss: rc' = rc + m/β, β' = β/w_0 (see module docstring).

    margin: [B] m = Σ_j w_j·(r_j(chosen) − r_j(rejected)). With m = 0 and w_0 = 1 this returns the DPO inputs
    unchanged (adding 0.0 and dividing by 1.0 are exact), so MODPO with zero margin weights IS DPO."""
    if b.rc is None or b.rr is None:
        raise RunError("MODPO needs reference log-probs")
    shift = (margin / params.beta).to(b.rc.dtype)
    return dataclasses.replace(b, rc=b.rc + shift), dataclasses.replace(params, beta=params.beta / w_target)


# --- margin rewards, computed once --------------------------------------------------------------------------


def adapter_beta(folder: str | Path, default: float) -> float:
    """β the margin adapter was trained with (its run's config.json, two levels above a checkpoint folder) —
    the implicit reward is defined with that β — or `default` when the folder is not inside a run."""
    config = Path(folder).resolve().parent.parent / "config.json"
    try:
        return float(json.loads(config.read_text(encoding="utf-8"))["beta"])
    except (OSError, ValueError, KeyError, TypeError):
        return default


def _objective_head(folder: str | Path, objective: str, device: torch.device) -> HeadInput | None:
    """When `folder` is a MAH-DPO checkpoint with a head for `objective`, that head (π_j = trunk + head j)."""
    if not has_heads(folder):
        return None
    if heads_kind(folder) != ObjectiveHeads.kind:
        raise RunError(f"{folder} holds full per-objective heads, which MODPO margins do not support yet; use a "
                       "MAH-DPO run with low-rank heads (head_type low_rank) as the margin adapter")
    heads = ObjectiveHeads.load(folder, device=device).requires_grad_(False)
    if objective not in heads.objectives:
        return None
    k = heads.index(objective)
    return lambda h, _rows: h + heads.delta(h, k)


def adapter_margins(model: torch.nn.Module, data: TokenizedData, folder: str | Path, ref: Tensor, beta: float, *,
                    batch_size: int, chunk_tokens: int, pad_id: int, progress: Progress | None = None,
                    objective: str = "") -> Tensor:
    """[N] β·((log π_j(c) − log π_ref(c)) − (log π_j(r) − log π_ref(r))) with the adapter in `folder` loaded
    frozen next to the training adapter under a temporary name, removed again afterwards. A mah_dpo checkpoint
    scores with its head for `objective` when it has one (its policy for that objective)."""
    name = "modpo_margin"
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):  # LoRA init draws randoms
        model.load_adapter(str(folder), adapter_name=name, is_trainable=False)
    try:
        lp = logps_table(model, data, batch_size=batch_size, chunk_tokens=chunk_tokens, pad_id=pad_id,
                         progress=progress, adapter=name, head_input=_objective_head(folder, objective, device))
    finally:
        model.delete_adapter(name)
    ratio = lp.double() - ref.double().cpu()
    return beta * (ratio[:, 0] - ratio[:, 1])


def scorer_margins(scorer: Scorer, data: TokenizedData, rows: list[PairRow]) -> Tensor:
    """[N] r(chosen) − r(rejected) with r = the scorer's value on the raw texts, negated when lower is better."""
    by_key = {(r.pair_id, r.objective): r for r in rows}
    sign = -1.0 if scorer.direction == "minimize" else 1.0
    out = torch.zeros(len(data), dtype=torch.float64)
    for i in range(len(data)):
        row = by_key[(data.pair_id[i], data.objectives[data.objective[i]])]
        prompt = _as_text(row.prompt)
        out[i] = sign * (scorer(prompt, _as_text(row.chosen)) - scorer(prompt, _as_text(row.rejected)))
    return out


def margins_fingerprint(cfg: RunConfig, data: TokenizedData, scorers_file: Path) -> str:
    """Changes when the pairs, the model, a margin source (adapter file, scorer, scorers.py) or β changes."""
    h = hashlib.sha256(data_fingerprint(data, cfg.model).encode())
    for obj in margin_objectives(cfg):
        if obj in cfg.margin_adapters:
            weights = Path(cfg.margin_adapters[obj]) / "adapter_model.safetensors"
            st = weights.stat() if weights.exists() else None
            src = [str(weights.resolve()), st.st_size if st else 0, st.st_mtime_ns if st else 0,
                   adapter_beta(cfg.margin_adapters[obj], cfg.beta)]
        else:
            src = [cfg.margin_scorers[obj], hashlib.sha256(scorers_file.read_bytes()).hexdigest()
                   if scorers_file.is_file() else ""]
        h.update(json.dumps([obj, src]).encode())
    return h.hexdigest()


def margin_table(model: torch.nn.Module, data: TokenizedData, rows: list[PairRow], ref: Tensor, cfg: RunConfig,
                 run_dir: str | Path, *, pad_id: int, progress: Progress | None = None) -> Tensor:
    """[N, J] Δr_j per pair and margin objective (margin_objectives order), from run_dir/modpo_margins.pt when its
    fingerprint matches, else computed (scorers from run_dir/scorers.py + built-ins) and cached."""
    run_dir = Path(run_dir)
    scorers_file = run_dir / "scorers.py"
    fp = margins_fingerprint(cfg, data, scorers_file)
    path = run_dir / MARGINS_FILE
    if path.exists():
        cached = torch.load(path, map_location="cpu", weights_only=True)
        if cached.get("fingerprint") == fp:
            return cached["margins"]
    registry = (trusted_registry(scorers_file, trusted_from_env(), needed=cfg.margin_scorers.values())
                if cfg.margin_scorers else None)
    columns = []
    for obj in margin_objectives(cfg):
        if obj in cfg.margin_adapters:
            folder = cfg.margin_adapters[obj]
            columns.append(adapter_margins(model, data, folder, ref, adapter_beta(folder, cfg.beta),
                                           batch_size=cfg.batch_size, chunk_tokens=cfg.logprob_chunk,
                                           pad_id=pad_id, progress=progress, objective=obj))
        else:
            columns.append(scorer_margins(registry.get(cfg.margin_scorers[obj]), data, rows))
    margins = torch.stack(columns, dim=1)
    if is_main_process():  # under torchrun every rank holds the table; one writes the cache
        tmp = path.with_suffix(".tmp")
        torch.save({"fingerprint": fp, "objectives": margin_objectives(cfg), "margins": margins}, tmp)
        tmp.replace(path)
    return margins
