"""The one rule for objective weights (steering MAH-DPO heads, mixing adapter soups, weighting losses).

Every client (the inference worker's set_weights, the evaluation worker, the soup builder, the CLI and the GUI)
calls `validate_weights`, so the same input is refused everywhere with the same message (issue 11, item 3).

The rule: every weight is a finite, non-negative number, they are not all zero, and they are normalised to sum
to 1 — a convex mixture. MAH-DPO mixes head logits Σ_k w_k·logits_k (LOSSES.md); outside the simplex that is
no longer a mixture of what the heads learned: {2, 0} lands a whole head-delta beyond the head, {0, 0} is the
trunk with no head at all. Extrapolation (negative weights, sums other than 1) is only allowed when a caller
asks for it explicitly (`extrapolate=True`, labelled as such where it is offered); the weights are then used as
given, but must still be finite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.core.errors import WorkbenchError

RULE = "weights must be finite numbers >= 0, not all zero (they are normalised to sum 1)"


class WeightError(WorkbenchError, ValueError):
    """Weights that break the rule; the message names the offending entries and states the rule. Also a ValueError,
    which is what the training layer's callers catch for bad arguments."""


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WeightError(f"weight of {name} must be a number, not {value!r}; {RULE}")
    return float(value)


def format_weight_values(weights: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in weights.items())


def validate_weights(weights: Mapping[str, Any], objectives: Sequence[str] | None = None, *,
                     extrapolate: bool = False) -> dict[str, float]:
    """`weights` checked and normalised: {objective: w} over `objectives` (missing ones get 0), summing to 1.

    `objectives` None = the keys of `weights`. A name that is not among `objectives` is refused (a typo would
    otherwise silently weigh nothing). With `extrapolate=True` the finite weights are returned as given."""
    if not isinstance(weights, Mapping):
        raise WeightError(f"weights must be a mapping {{objective: weight}}, not {type(weights).__name__}")
    names = list(objectives) if objectives is not None else [str(k) for k in weights]
    unknown = sorted(str(k) for k in weights if str(k) not in names)
    if unknown:
        raise WeightError(f"unknown objective(s) in the weights: {', '.join(unknown)}; the objectives to weigh are "
                          f"{', '.join(names) or 'none'}")
    values = {k: _number(k, weights.get(k, 0.0)) for k in names}
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise WeightError(f"weight of {', '.join(bad)} is not finite ({format_weight_values(values)}); {RULE}")
    if extrapolate:
        return values
    negative = [k for k, v in values.items() if v < 0]
    if negative:
        raise WeightError(f"weight of {', '.join(negative)} is negative ({format_weight_values(values)}); {RULE}")
    total = sum(values.values())
    if total <= 0:
        raise WeightError(f"all weights are zero ({format_weight_values(values) or 'none given'}); {RULE}")
    return {k: v / total for k, v in values.items()}
