"""Load a trained checkpoint for inference and steer it (used by evaluation, the inference worker and the demo).

    s = load_steerable(run_config_or_model, "runs/0003-x/checkpoints/step-50")
    s.set_weights({"brevity": 0.7, "detail": 0.3})     # MAH-DPO checkpoints: mixture of the objective heads
    out = s.model.generate(**s.tokenizer("Hi", return_tensors="pt").to(s.device), max_new_tokens=20)
    with s.as_reference():                             # base model: adapter disabled and heads off
        ...

Any checkpoint folder of a run works: the PEFT adapter is loaded frozen, and when the folder also holds MAH-DPO
heads (heads.safetensors) a `MixingHook` on the output head makes every forward pass and `generate` use
Σ_k w_k logits_k — one merged head, so steering costs nothing per token (workbench.training.preference.heads).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.core.weights import validate_weights
from workbench.training.preference.heads import MixingHook, ObjectiveHeads, has_heads, load_heads
from workbench.training.engine.model_loading import LoadedModel, load_model


@dataclass
class Steerable:
    """A base model + checkpoint ready to generate. `model` is the PeftModel (the plain base model when no
    checkpoint was given); `heads`/`hook` are None unless the checkpoint is a MAH-DPO one; `objectives` are the
    heads' objectives (empty without heads)."""

    model: Any
    tokenizer: Any
    heads: ObjectiveHeads | None
    hook: MixingHook | None
    objectives: list[str]
    device: torch.device
    info: dict[str, Any]

    @property
    def weights(self) -> dict[str, float]:
        """The current head mixture ({} without heads)."""
        return self.hook.weights if self.hook is not None else {}

    def set_weights(self, weights: dict[str, float]) -> None:
        """Mix the heads with `weights` (objective -> weight, missing = 0), checked and normalised to sum 1 by the
        one rule (core.weights.validate_weights: a convex mixture of head logits). Raises ValueError (WeightError)
        for unknown objectives, negative, non-finite or all-zero weights, or weights on a checkpoint without heads
        (where an empty dict is allowed: nothing to mix)."""
        if self.hook is None:
            if any(weights.values()):
                raise ValueError("this checkpoint has no objective heads (not a mah_dpo run): nothing to mix")
            return
        self.hook.set_weights(validate_weights(weights, self.objectives))

    @contextlib.contextmanager
    def as_reference(self) -> Iterator[None]:
        """Inside the block the model is the base model (adapter disabled and heads off): the DPO reference."""
        with contextlib.ExitStack() as stack:
            if hasattr(self.model, "disable_adapter"):
                stack.enter_context(self.model.disable_adapter())
            if self.hook is not None:
                stack.enter_context(self.hook.disabled())
            yield


def load_for_inference(base: torch.nn.Module, checkpoint_dir: str | Path,
                       device: torch.device | str | None = None) -> tuple[Any, ObjectiveHeads | None,
                                                                          MixingHook | None]:
    """(PeftModel with the checkpoint's adapter, frozen and in eval mode; its heads or None; a MixingHook on the
    output head with equal head weights, or None). `base` is a transformers causal LM (LoadedModel.model)."""
    from peft import PeftModel

    folder = Path(checkpoint_dir)
    if not (folder / "adapter_config.json").is_file():
        raise RunError(f"{folder} is not a checkpoint folder (no adapter_config.json); choose a run's "
                       "checkpoints/step-N folder")
    model = PeftModel.from_pretrained(base, str(folder), is_trainable=False).eval()
    if not has_heads(folder):
        return model, None, None
    target = device if device is not None else next(base.parameters()).device
    heads = load_heads(folder, device=target).eval().requires_grad_(False)
    hook = MixingHook(model, heads)
    hook.set_weights({o: 1.0 / len(heads.objectives) for o in heads.objectives})
    return model, heads, hook


def load_steerable(cfg_or_model_spec: RunConfig | str, checkpoint_dir: str | Path | None,
                   device: torch.device | str | None = None) -> Steerable:
    """Load the base model (a RunConfig — e.g. the run's config.json — or a model folder / hub id / .gguf path)
    and the checkpoint at `checkpoint_dir` (None: the base model alone). MAH-DPO heads start at equal weights,
    the paper's default ensemble; call `set_weights` to steer."""
    cfg = (cfg_or_model_spec if isinstance(cfg_or_model_spec, RunConfig)
           else RunConfig(model=str(cfg_or_model_spec)))
    loaded: LoadedModel = load_model(cfg, device=torch.device(device) if device is not None else None,
                                     for_training=False)
    loaded.model.eval()
    heads = hook = None
    model = loaded.model
    if checkpoint_dir is not None:
        model, heads, hook = load_for_inference(loaded.model, checkpoint_dir, loaded.device)
    return Steerable(model, loaded.tokenizer, heads, hook, list(heads.objectives) if heads else [],
                     loaded.device, dict(loaded.info))
