"""The PRM network and its checkpoint files, shared by training (prm_trainer.py) and scoring
(workbench.inference.prm_scoring), so both compute a step's score the same way.

Model (TRL PRMTrainer's convention, peers-prm.md §1): the base causal LM's transformer with a LoRA adapter, and
a 2-class linear scoring head on its last hidden state (as AutoModelForTokenClassification(num_labels=2): class 1
= a correct step), read at the last token of each step's separator. The LM head is never run. Or (prm_head =
"implicit", implicit_prm.py) the score comes from the adapter's log-likelihood ratio to the base model, summed up
to the separator, plus a learned bias.

Checkpoint folder (no pickle): the PEFT adapter (adapter_config.json + adapter_model.safetensors), the head as
prm_head.safetensors, and prm.json: the base model, the step separator, whether a separator follows the prompt,
and max_length. A separator mismatch between training and scoring would fail silently, so scoring reads it from
here and nowhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.reward_models.implicit_prm import ImplicitHead, ReferenceCache, implicit_step_logits
from workbench.training.reward_models.prm_data import StepBatch

META_FILE = "prm.json"
HEAD_FILE = "prm_head.safetensors"
FORMAT = "workbench-prm"
GOOD_CLASS = 1
# RunConfig fields a scorer needs to load the same base model
_BASE_FIELDS = ("model", "gguf_file", "revision", "trust_remote_code", "allow_pickle")


class PRMHead(torch.nn.Linear):
    """Linear(hidden, 2) on the final hidden state (fp32)."""

    def __init__(self, hidden: int, num_labels: int = 2) -> None:
        super().__init__(hidden, num_labels)


Head = PRMHead | ImplicitHead


def make_head(model: torch.nn.Module, seed: int, kind: str = "classifier", beta: float = 1.0) -> Head:
    """A fresh head. classifier: initialised as transformers initialises a token-classification head:
    N(0, initializer_range), bias 0; seeded from `seed` without touching the global RNG stream. implicit: bias 0
    (implicit_prm.py)."""
    if kind == "implicit":
        return ImplicitHead(beta)
    config = model.config
    head = PRMHead(int(config.hidden_size))
    gen = torch.Generator().manual_seed(seed + 17)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=gen) * float(getattr(config,
                                                                                    "initializer_range", 0.02)))
        head.bias.zero_()
    return head


def backbone(model: torch.nn.Module) -> torch.nn.Module:
    """The transformer under the LM head (LlamaForCausalLM.model, GPT2LMHeadModel.transformer), LoRA included."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(base, getattr(base, "base_model_prefix", "model"), None)
    if inner is None or inner is base:
        raise RunError(f"cannot find the transformer inside {type(base).__name__} to put a scoring head on")
    return inner


def step_logits(model: torch.nn.Module, head: Head, batch: StepBatch,
                reference: ReferenceCache | None = None) -> torch.Tensor:
    """[N, 2] head logits at the N positions where batch.step_mask is True (row-major order: row 0's steps
    first); class 1 = good. `reference`: the implicit head's cache of reference log-probs (a training run)."""
    if isinstance(head, ImplicitHead):
        return implicit_step_logits(model, head, batch, reference)
    hidden = backbone(model)(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
    return head(hidden[batch.step_mask].to(head.weight.dtype))


def prm_meta(cfg: RunConfig) -> dict[str, Any]:
    return {"format": FORMAT, "version": 1, **{k: getattr(cfg, k) for k in _BASE_FIELDS},
            "step_separator": cfg.step_separator, "separator_after_prompt": cfg.separator_after_prompt,
            "head": cfg.prm_head, "prm_beta": cfg.prm_beta,
            "max_length": cfg.max_length, "num_labels": 2, "good_class": GOOD_CLASS}


def save_prm_files(folder: Path, head: PRMHead, meta: dict[str, Any]) -> None:
    """The head and prm.json next to the adapter (the adapter itself is written by save_checkpoint)."""
    save_file({k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}, str(folder / HEAD_FILE))
    (folder / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def read_meta(folder: Path) -> dict[str, Any]:
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise RunError(f"{folder} is not a process reward model checkpoint (no {META_FILE}): choose a checkpoint "
                       "folder of a PRM run")
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise RunError(f"{path} was not written by a PRM run")
    return meta


def load_head(folder: Path, hidden: int, device: torch.device | str = "cpu") -> Head:
    """The head of a checkpoint folder, of the kind its prm.json names (checkpoints before the implicit head
    have none: classifier)."""
    meta = read_meta(folder)
    head: Head = (ImplicitHead(float(meta.get("prm_beta", 1.0))) if meta.get("head") == "implicit"
                  else PRMHead(hidden))
    try:
        head.load_state_dict(load_file(str(Path(folder) / HEAD_FILE)))
    except (OSError, RuntimeError) as exc:
        raise RunError(f"the scoring head in {folder} cannot be read or does not fit the base model "
                       f"({type(exc).__name__}); the checkpoint may be damaged") from None
    return head.to(device)


@dataclass
class LoadedPRM:
    model: Any  # PeftModel in eval mode
    head: Head
    tokenizer: Any
    meta: dict[str, Any]
    device: torch.device


def load_prm(folder: str | Path, *, device: torch.device | None = None, precision: str = "fp32") -> LoadedPRM:
    """Base model (from prm.json) + the folder's adapter + head, ready to score."""
    from peft import PeftModel

    from workbench.training.engine.model_loading import load_model

    folder = Path(folder)
    meta = read_meta(folder)
    cfg = RunConfig(**{k: meta[k] for k in _BASE_FIELDS if k in meta}, precision=precision,
                    device=str(device) if device is not None else "auto")
    loaded = load_model(cfg, device=device, for_training=False)
    model = PeftModel.from_pretrained(loaded.model, str(folder))
    model.eval()
    head = load_head(folder, int(model.config.hidden_size), loaded.device)
    head.eval()
    return LoadedPRM(model, head, loaded.tokenizer, meta, loaded.device)
