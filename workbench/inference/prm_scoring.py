"""Scoring steps with a trained process reward model (a PRM run's checkpoint folder).

    scorer = PRMScorer("runs/0003-prm/checkpoints/step-200")
    scorer.score_steps("Tom has 3 boxes ...", ["Step 1: ... = 12.", "The answer is 12."])  # -> [0.97, 0.95]

A score is P(good) of a step given the prompt and the steps before it (the head's class 1 at the last token of the
step's separator), all steps of a solution in ONE forward pass. Tokenisation, separator and the forward are those
of training (training.reward_models.prm_data / prm_model), read from the checkpoint's prm.json, so a score here
equals the score the training run's evaluation computed for the same text.

Guided decoding (inference/guided_decoding.py) codes against `score_steps` / `score_batch`; keep them stable.
"""

from __future__ import annotations

from pathlib import Path

import torch

from workbench.training.reward_models.prm_data import StepTokens, collate_steps, tokenize_steps
from workbench.training.reward_models.prm_model import GOOD_CLASS, LoadedPRM, load_prm, step_logits


class PRMScorer:
    """A PRM checkpoint loaded for scoring (base model from its prm.json + adapter + head), in eval mode."""

    def __init__(self, folder: str | Path, *, device: torch.device | str | None = None,
                 precision: str = "fp32") -> None:
        dev = torch.device(device) if isinstance(device, str) else device
        self.loaded: LoadedPRM = load_prm(folder, device=dev, precision=precision)
        self.folder = Path(folder)
        meta = self.loaded.meta
        self.separator: str = meta["step_separator"]
        self.separator_after_prompt: bool = bool(meta["separator_after_prompt"])
        context = int(getattr(self.loaded.model.config, "max_position_embeddings", 0) or 0)
        self.max_length: int | None = context or None

    @property
    def tokenizer(self):  # noqa: ANN201 - a transformers tokenizer
        return self.loaded.tokenizer

    @property
    def device(self) -> torch.device:
        return self.loaded.device

    def tokenize(self, prompt: str, steps: list[str]) -> StepTokens:
        """The token row a solution is scored on (the training layout)."""
        return tokenize_steps(self.loaded.tokenizer, prompt, list(steps), separator=self.separator,
                              separator_after_prompt=self.separator_after_prompt, max_length=self.max_length)

    def score_steps(self, prompt: str, steps: list[str]) -> list[float]:
        """P(good) of each step, in order (one forward pass). A step beyond the model's context gets nan."""
        return self.score_batch([(prompt, steps)])[0]

    @torch.no_grad()
    def score_batch(self, items: list[tuple[str, list[str]]], *, batch_size: int = 8) -> list[list[float]]:
        """score_steps for many (prompt, steps) solutions, `batch_size` rows per forward pass."""
        rows = [self.tokenize(prompt, steps) for prompt, steps in items]
        out: list[list[float]] = []
        pad = self.loaded.tokenizer.pad_token_id
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            scored = [r for r in chunk if r.positions]
            p_good: list[float] = []
            if scored:
                batch = collate_steps(scored, pad, self.device)
                logits = step_logits(self.loaded.model, self.loaded.head, batch).float()
                p_good = torch.softmax(logits, -1)[:, GOOD_CLASS].cpu().tolist()
            at = 0
            for r in chunk:
                n = len(r.positions)
                out.append(p_good[at:at + n] + [float("nan")] * (r.n_steps - n))
                at += n
        return out
