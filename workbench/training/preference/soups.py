"""Adapter soups: one LoRA adapter per objective, combined by weight at inference (DESIGN.md §5, LOSSES.md).

Rewarded soups (Ramé et al., "Rewarded soups: towards Pareto-optimal alignment by interpolating weights fine-tuned
on diverse rewards", NeurIPS 2023) interpolate the weights of per-reward fine-tunes. Averaging LoRA factors A and B
separately, as that paper's code does, gives (Σλ_k B_k)(Σλ_k A_k), not Σλ_k B_k A_k. PEFT's
`add_weighted_adapter(..., combination_type="cat")` stacks the factors instead: A = [λ_1 s_1 A_1; ...; λ_K s_K A_K],
B = [B_1 ... B_K] (rank Σ r_k, scaling 1), so B·A = Σ_k λ_k s_k B_k A_k exactly (s_k = alpha_k / r_k, the adapter's
own LoRA scaling). The `linear` combination scales both factors by √(λ s) and is only approximate.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import torch
from peft import PeftModel
from peft.tuners.lora import LoraLayer

from workbench.core.errors import RunError
from workbench.core.weights import validate_weights


def soup_model(model: torch.nn.Module, adapters: Mapping[str, str]) -> PeftModel:
    """Wrap a base model in a PeftModel holding every objective's adapter (adapter name = objective name)."""
    if not adapters:
        raise RunError("a soup needs one adapter per objective (soup_adapters: {objective: adapter folder})")
    first, folder = next(iter(adapters.items()))
    try:
        peft_model = PeftModel.from_pretrained(model, str(folder), adapter_name=str(first))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise RunError(f"could not load the adapter in {folder}: {str(exc).splitlines()[0]}; choose a run's "
                       "checkpoints/step-N folder trained on this base model") from None
    _load_missing(peft_model, adapters)
    return peft_model


def _load_missing(peft_model: PeftModel, adapters: Mapping[str, str]) -> None:
    """Load each objective's adapter once; an objective already loaded keeps its weights."""
    for objective, folder in adapters.items():
        if objective in peft_model.peft_config:
            continue
        try:
            peft_model.load_adapter(str(folder), adapter_name=str(objective))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise RunError(f"could not load the adapter of '{objective}' from {folder}: "
                           f"{str(exc).splitlines()[0]}; all soup adapters must be trained on the same base "
                           "model") from None


def make_soup(peft_model: PeftModel, adapters: Mapping[str, str], weights: Mapping[str, float],
              name: str = "soup", *, extrapolate: bool = False) -> None:
    """Make `name` = Σ_k weights[k] · (objective k's LoRA delta) the active adapter of `peft_model`.

    Objectives missing from `weights` get 0. The weights follow the one rule (core.weights.validate_weights:
    finite, >= 0, not all zero, normalised to sum 1); `extrapolate=True` is the deliberate, labelled exception that
    uses finite weights as given (negative ones included). Calling again with new weights replaces the previous
    soup (PEFT's add_weighted_adapter silently keeps an existing adapter of the same name, so it is deleted first).
    """
    unknown = sorted(set(weights) - set(adapters))
    if unknown:
        raise RunError(f"no soup adapter for objective(s) {', '.join(unknown)}; soup_adapters has "
                       f"{', '.join(adapters) or 'none'}")
    if name in adapters:
        raise RunError(f"the soup cannot be called '{name}': an objective has that name")
    weights = validate_weights(weights, list(adapters), extrapolate=extrapolate)
    _load_missing(peft_model, adapters)
    if name in peft_model.peft_config:
        with warnings.catch_warnings():  # "Adapter soup was active which is now deleted": expected here
            warnings.simplefilter("ignore", UserWarning)
            peft_model.delete_adapter(name)
    names = list(adapters)
    lam = [float(weights.get(k, 0.0)) for k in names]
    if len(names) == 1:
        # PEFT falls back to `linear` for one adapter, which takes √(λ s): duplicate it so `cat` stays exact
        # (λ B A = λ/2 B A + λ/2 B A) and negative weights keep working.
        names, lam = names * 2, [lam[0] / 2] * 2
    peft_model.add_weighted_adapter(names, lam, adapter_name=name, combination_type="cat")
    for module in peft_model.modules():
        if isinstance(module, LoraLayer) and name in module.scaling:
            module.scaling[name] = 1.0  # the λ s factors already sit in A (guards against use_rslora configs)
    peft_model.set_adapter(name)

