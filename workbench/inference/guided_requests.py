"""A `generate` request with a `guide`: reward-guided decoding in the inference worker (guided_decoding.py).

    generate {request, prompt, temperature, top_p, top_k, max_new_tokens, seed,
              guide: {mode: "prm_steps", checkpoint: <PRM checkpoint folder>, k: 4, max_steps: 20,
                      max_step_tokens: 64}
           | guide: {mode: "best_of_n", checkpoint: <reward model checkpoint folder>, n: 4, weights?: {obj: w}}}

prm_steps streams one `token` per accepted step ({request, text, step, score}; the pieces add up to the result's
text) and answers `result` {data: {text, mode, steps: [{text, score, chosen, candidates: [{text, score}]}], ...}}.
best_of_n answers with the chosen text (one `token`) and `candidates` [{text, scores{objective: r}, total}],
`chosen`, and the `weights` it ranked by: the request's, else the loaded model's steering weights when they name
the reward model's objectives, else every objective alike (core.weights' rule in every case).

The scorers are loaded on first use and kept per (kind, folder), so a second request pays no loading.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import RunError
from workbench.core.weights import validate_weights
from workbench.inference.generation import GenerationSettings
from workbench.inference.guided_decoding import (MAX_CANDIDATES, GuidedResult, GuidedStep, SearchSettings,
                                                 best_of_n, step_search)

MODES = ("prm_steps", "best_of_n")
MODE_LABELS = {"prm_steps": "PRM step search", "best_of_n": "best-of-N by the reward model"}


@dataclass(frozen=True)
class GuideSpec:
    mode: str
    checkpoint: str
    k: int = 4
    n: int = 4
    max_steps: int = 20
    max_step_tokens: int = 64
    weights: dict[str, Any] | None = None

    @classmethod
    def from_request(cls, guide: Any) -> GuideSpec:
        """Read a request's `guide`; a bad value raises RunError naming it and what it may be."""
        if not isinstance(guide, dict):
            raise RunError("guide must be an object {mode, checkpoint, ...}")
        mode = str(guide.get("mode") or "")
        if mode not in MODES:
            raise RunError(f"guide mode must be one of {', '.join(MODES)}; got {mode!r}")
        checkpoint = str(guide.get("checkpoint") or "")
        what = "process reward model (PRM)" if mode == "prm_steps" else "reward model"
        if not checkpoint:
            raise RunError(f"choose the {what} checkpoint folder to guide with")
        if not Path(checkpoint).expanduser().is_dir():
            raise RunError(f"the {what} checkpoint {checkpoint} is not a folder; choose a checkpoint folder of a "
                           f"{'prm' if mode == 'prm_steps' else 'reward_model'} run")
        ints = {}
        for key, default, high in (("k", 4, MAX_CANDIDATES), ("n", 4, MAX_CANDIDATES), ("max_steps", 20, 200),
                                   ("max_step_tokens", 64, 4096)):
            value = guide.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise RunError(f"guide {key} must be a whole number between 1 and {high}; got {value!r}")
            ints[key] = value
        weights = guide.get("weights")
        if weights is not None and not isinstance(weights, dict):
            raise RunError("guide weights must be an object {objective: weight}")
        return cls(mode, str(Path(checkpoint).expanduser()), weights=weights or None, **ints)

    def settings(self) -> dict[str, Any]:
        keep = ("k", "max_steps", "max_step_tokens") if self.mode == "prm_steps" else ("n",)
        return {"mode": self.mode, "checkpoint": self.checkpoint, **{k: getattr(self, k) for k in keep}}


class ScorerCache:
    """Loaded scorers by (kind, folder, device): a playground session tries many prompts with one PRM."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, folder: str, device: Any) -> Any:
        key = (kind, str(Path(folder).resolve()), str(device))
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = load_scorer(kind, folder, device)
            return self._loaded[key]

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()


def load_scorer(kind: str, folder: str, device: Any) -> Any:
    if kind == "prm_steps":
        from workbench.inference.prm_scoring import PRMScorer

        return PRMScorer(folder, device=str(device))
    from workbench.inference.reward_scoring import VectorRM

    return VectorRM(folder, device=str(device))


def ranking_weights(spec: GuideSpec, objectives: list[str], steering: dict[str, float]) -> dict[str, float]:
    """The weights best-of-N ranks by (module docstring), checked by core.weights."""
    if spec.weights:
        return validate_weights(spec.weights, objectives)
    if steering and set(objectives) <= set(steering):
        return validate_weights({o: steering[o] for o in objectives}, objectives)
    return validate_weights({o: 1.0 for o in objectives}, objectives)


def run_guided(model: Any, tokenizer: Any, prompt_ids: list[int], prompt: str, settings: GenerationSettings,
               spec: GuideSpec, scorer: Any, steering: dict[str, float], cancel: threading.Event,
               on_piece: Callable[[str, dict[str, Any]], None]) -> dict[str, Any]:
    """Run one guided request; returns the data of its `result` (text, tokens, seconds, finish, mode, ...)."""
    data: dict[str, Any] = {"mode": spec.mode, "guide": spec.settings(), "settings": settings.to_dict(),
                            "seed": settings.seed}
    prompt = prompt.strip()  # the scorer reads the question; a newline typed after it in the playground is not part
    if spec.mode == "prm_steps":
        separator = str(getattr(scorer, "separator", "") or "\n")
        search = SearchSettings(k=spec.k, max_steps=spec.max_steps, max_step_tokens=spec.max_step_tokens,
                                separator=separator)
        count = [0]

        def on_step(step: GuidedStep) -> None:
            on_piece(step.piece, {"step": count[0], "score": step.to_dict()["score"]})
            count[0] += 1

        result = step_search(model, tokenizer, prompt_ids, prompt, scorer, settings, search, cancel=cancel,
                             on_step=on_step)
        data.update(steps=[s.to_dict() for s in result.steps], separator=separator)
    else:
        objectives = list(scorer.objectives)
        weights = ranking_weights(spec, objectives, steering)
        result = best_of_n(model, tokenizer, prompt_ids, prompt, scorer, weights, settings, spec.n, cancel=cancel)
        if result.text:
            on_piece(result.text, {})
        data.update(candidates=result.candidates, chosen=result.chosen, weights=weights, objectives=objectives)
    return {**data, **_summary(result)}


def _summary(result: GuidedResult) -> dict[str, Any]:
    return {"text": result.text, "tokens": result.tokens, "response_tokens": len(result.ids),
            "seconds": round(result.seconds, 4), "finish": result.finish,
            "tokens_per_s": round(result.tokens / result.seconds, 2) if result.seconds > 0 else 0.0}
