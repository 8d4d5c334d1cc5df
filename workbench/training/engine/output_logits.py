"""What a causal LM does to its logits after the output head, so the chunked log-prob path (training.logprobs)
computes the model's own log-probs (issue 11, item 6).

The chunked path applies the output head itself (to completion positions only), so any processing the model's
forward applies after its head must be repeated here, or DPO would train on other numbers than the model's:
- Gemma 2 / Gemma 3: `final_logit_softcapping` c: logits = c · tanh(logits / c);
- Cohere: `logit_scale` s: logits = s · logits;
- Granite: `logits_scaling` d: logits = logits / d.
A config with any other setting named like a logit transform (a non-empty `*logit*` field this module does not
know) is refused with a message instead of being trained wrongly. Settings that act inside the body (attention
soft-capping) or only add outputs (router logits) are listed as harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from workbench.core.errors import RunError

HANDLED = ("final_logit_softcapping", "logit_scale", "logits_scaling")
HARMLESS = frozenset({"attn_logit_softcapping", "output_router_logits", "router_logits", "output_logits",
                      "return_logits"})

Transform = Callable[[Tensor], Tensor]


def _settings(config: Any) -> dict[str, Any]:
    try:
        data = config.to_dict()
    except AttributeError:
        data = dict(vars(config))
    text = getattr(config, "text_config", None)  # multimodal wrappers keep the LM's settings here
    if text is not None and hasattr(text, "to_dict"):
        data = {**text.to_dict(), **data}
    return data


def logit_transform(config: Any) -> Transform | None:
    """The function the model applies to its head's logits (None: the identity); RunError when it is unknown."""
    settings = _settings(config)
    unknown = sorted(k for k, v in settings.items() if "logit" in k.lower() and k not in HANDLED
                     and k not in HARMLESS and v not in (None, False, 0, 1, 1.0, "", [], {}))
    if unknown:
        model_type = settings.get("model_type", "this model")
        raise RunError(f"{model_type} processes its output logits ({', '.join(unknown)}) in a way the workbench's "
                       "log-prob computation does not reproduce, so training it would optimise the wrong numbers; "
                       "choose a supported architecture (Llama, Mistral, Qwen2/3, SmolLM3, Gemma/Gemma 2, Phi-3, "
                       "GPT-2)")
    steps: list[Transform] = []
    cap = settings.get("final_logit_softcapping")
    if cap:
        steps.append(lambda x, c=float(cap): torch.tanh(x / c) * c)
    scale = settings.get("logit_scale")
    if scale not in (None, 1, 1.0):
        steps.append(lambda x, s=float(scale): x * s)
    divide = settings.get("logits_scaling")
    if divide not in (None, 1, 1.0):
        steps.append(lambda x, d=float(divide): x / d)
    if not steps:
        return None

    def apply(x: Tensor) -> Tensor:
        for step in steps:
            x = step(x)
        return x

    return apply
