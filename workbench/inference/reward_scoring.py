"""Scoring with a trained vector outcome reward model (issue #17 item 4): `VectorRM` loads a checkpoint folder of
a `reward_model` run (PEFT adapter + rm_head.safetensors + rm.json, training/reward_models/vector_rm.py) and gives
one reward per objective for (prompt, response) pairs.

    rm = VectorRM("runs/0007-rm/checkpoints/step-40")
    rm.objectives                                   # ["brevity", "detail"]: the columns, in this order
    rm.score(["Tell me about eggs."], ["Eggs."])    # np.ndarray [1, 2] float64

Text is encoded exactly as training encoded it (workbench.training.engine.data: the chat template when the tokenizer has
one, else raw text + eos), and the reward is read at the last token by the same code the trainer scores with, so a
pair gets the score the trainer gave it. A prompt longer than the model's max_prompt_length keeps its last tokens
(training dropped such pairs); a response longer than the room left is truncated as in training.

Used by the eval worker (RunConfig.eval_reward_model: `<objective>/reward` of generations) and best-of-N decoding.
Only inside worker processes (torch).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.engine.data import PairRow, _common_prefix, _encode_pair
from workbench.training.engine.model_loading import load_model
from workbench.training.reward_models.vector_rm import RewardHead, RMInfo, load_head, score_sequences

_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


class VectorRM:
    """A loaded vector reward model (module docstring). `device`: auto | cpu | cuda | ...; `precision`: the trunk's
    autocast (fp32 default)."""

    def __init__(self, checkpoint: str | Path, *, device: str = "auto", precision: str = "fp32",
                 batch_size: int = 8, base_model: str | None = None) -> None:
        from peft import PeftModel

        self.folder = Path(checkpoint)
        self.info = RMInfo.load(self.folder)
        self.batch_size = max(1, int(batch_size))
        cfg = RunConfig(model=base_model or self.info.base_model, revision=self.info.revision,
                        gguf_file=self.info.gguf_file, device=device, precision=precision)
        loaded = load_model(cfg, for_training=False)
        self.tokenizer, self.device = loaded.tokenizer, loaded.device
        try:
            self.model = PeftModel.from_pretrained(loaded.model, str(self.folder)).eval()
        except (ValueError, OSError) as exc:
            raise RunError(f"could not load the reward model's adapter from {self.folder}: "
                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        self.head = RewardHead(self.info.hidden, len(self.info.objectives)).to(self.device)
        load_head(self.folder, self.head)
        dtype = _AUTOCAST.get(precision)
        self._autocast = ((lambda: torch.autocast(self.device.type, dtype=dtype))
                          if dtype is not None and self.device.type in ("cuda", "cpu") else contextlib.nullcontext)

    @property
    def objectives(self) -> list[str]:
        """The reward columns of `score`, in order."""
        return list(self.info.objectives)

    def encode(self, prompt: Any, response: Any) -> list[int]:
        """Token ids of prompt + response as training saw them (module docstring)."""
        prompt_ids, full, _ = _encode_pair(PairRow(0, "", prompt, response, response), self.tokenizer)
        cut = _common_prefix(prompt_ids, full)
        keep = min(cut, self.info.max_prompt_length)
        room = max(1, self.info.max_length - keep)
        return full[cut - keep:cut] + full[cut:][:room]

    def score(self, prompts: Sequence[Any], responses: Sequence[Any], *, batch_size: int | None = None) -> np.ndarray:
        """[n, K] float64 rewards, column k = objective k of `objectives`; prompts and responses are strings (or
        chat message lists), one prompt per response."""
        if len(prompts) != len(responses):
            raise ValueError(f"one prompt per response: {len(prompts)} prompts, {len(responses)} responses")
        if not len(prompts):
            return np.zeros((0, len(self.info.objectives)), dtype=np.float64)
        seqs = [self.encode(p, r) for p, r in zip(prompts, responses)]
        return score_sequences(self.model, self.head, seqs, pad_id=self.tokenizer.pad_token_id,
                               batch_size=batch_size or self.batch_size, autocast=self._autocast).numpy()


class RewardModelLabeller:
    """A trained vector reward model as a round's automatic labeller (core.rounds.SampleScorer, issue #15/#17):
    each answer's reward per objective; a higher reward is better for every objective."""

    def __init__(self, checkpoint: str | Path, objectives: Sequence[str], *, device: str = "auto") -> None:
        self.rm = VectorRM(checkpoint, device=device)
        missing = [o for o in objectives if o not in self.rm.objectives]
        if missing:
            raise RunError(f"the reward model {checkpoint} has no output for objective(s) {', '.join(missing)} "
                           f"(it was trained on {', '.join(self.rm.objectives)}): train one on them, or label "
                           "those objectives with scorers")
        self.columns = {o: self.rm.objectives.index(o) for o in objectives}
        self.name = f"reward_model:{Path(checkpoint).name}"
        self.directions = {o: "maximize" for o in objectives}

    def scores(self, prompt: Any, texts: Sequence[str]) -> list[dict[str, float]]:
        rewards = self.rm.score([_prompt_content(prompt)] * len(texts), list(texts))
        return [{o: float(row[k]) for o, k in self.columns.items()} for row in rewards]


def _prompt_content(prompt: Any) -> Any:
    """Rounds hand chat prompts over as their JSON text: back to the message list the model was trained on."""
    if isinstance(prompt, str) and prompt.startswith("["):
        import json

        with contextlib.suppress(ValueError):
            value = json.loads(prompt)
            if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
                return value
    return prompt


_LOADED: dict[tuple[str, str], VectorRM] = {}
_LOCK = threading.Lock()


def cached_vector_rm(checkpoint: str | Path, *, device: str = "auto") -> VectorRM:
    """One VectorRM per (folder, device) per process: an evaluation sweep scores every point with the same model
    and pays its loading once."""
    key = (str(Path(checkpoint).resolve()), device)
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = VectorRM(checkpoint, device=device)
        return _LOADED[key]


def reward_values(checkpoint: str | Path, prompts: Sequence[Any], texts: Sequence[str], objectives: Sequence[str],
                  *, device: str = "auto") -> dict[str, float]:
    """`<objective>/reward`: the mean reward of the generations, for every objective of `objectives` the reward
    model has an output for (an evaluation's values, workbench.training.evaluation.evaluate)."""
    rm = cached_vector_rm(checkpoint, device=device)
    known = [o for o in objectives if o in rm.objectives] if objectives else rm.objectives
    if not known or not len(texts):
        return {}
    scores = rm.score(list(prompts), list(texts))
    return {f"{o}/reward": float(scores[:, rm.objectives.index(o)].mean()) for o in known}
