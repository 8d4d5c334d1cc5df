"""Reward-guided decoding (issue #17 item 5; the MAH-DPO reference code's prm_guided_decoding, peers-prm.md §4).

- `best_of_n`: sample N responses in one batch, score each with a vector reward model (one score per objective),
  return the one with the highest weighted sum Σ_k w_k·r_k under the current steering weights (core.weights'
  one rule: finite, >= 0, not all zero, normalised to sum 1).
- `step_search`: step-level greedy search with a process reward model. At each step k candidate continuations are
  sampled from the running state and cut at the step separator; each is appended to the accepted steps and the
  PRM scores the whole prefix; the candidate whose new step scores highest is kept (argmax, no beam, no
  lookahead: as the reference code). It stops when the kept candidate ends the response (eos), at max_steps or
  at the token budget. The prompt is encoded once; candidates decode from a copy of the running KV cache and
  the winner's cache and logits become the running state (candidate_decoding.py), so the prefix is never
  re-encoded (reuse_cache=False re-encodes it every step: the reference the cached path is tested against).
- `sample`: plain sampling with the same sampler, for comparisons (tests/benchmarks/bench_guided_decoding.py).

The scorers are Protocols, so the algorithms run with any scorer: the PRM (prm_scoring.PRMScorer), the vector RM
(reward_scoring.VectorRM), a PRM seen as an outcome reward (`ProcessReward`), or a test's oracle.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from workbench.core.weights import validate_weights
from workbench.inference.candidate_decoding import (Candidate, Prefix, encode_prefix, make_generator, promote,
                                                    sample_candidates)
from workbench.inference.generation import GenerationSettings, _eos_ids

MAX_CANDIDATES = 32


class StepScorer(Protocol):
    """A process reward model: P(step is good) for every step of `steps` (after `prompt`)."""

    def score_steps(self, prompt: str, steps: Sequence[str]) -> list[float]: ...


class VectorScorer(Protocol):
    """An outcome reward model with one output per objective: scores [len(prompts), len(objectives)]."""

    objectives: list[str]

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray: ...


def steps_of(text: str, separator: str) -> list[str]:
    """The steps of a response cut at `separator` (blank pieces dropped), as the PRM sees them."""
    return [s.strip() for s in text.split(separator) if s.strip()]


def new_text(tokenizer: Any, response: list[int], before: str, ids: list[int]) -> str:
    """The text `ids` add after `response` (decoded together: byte-level pieces and leading spaces decode right
    only in context), `before` being the decode of `response` alone."""
    full = tokenizer.decode(response + ids, skip_special_tokens=True)
    return full[len(before):] if full.startswith(before) else tokenizer.decode(ids, skip_special_tokens=True)


def separator_at(text: str, separator: str) -> int:
    """Where the first separator after some content is in `text` (-1: none; a leading separator is no step)."""
    at = text.find(separator)
    while at >= 0 and not text[:at].strip():
        at = text.find(separator, at + 1)
    return at


def cut_step(text: str, separator: str) -> tuple[str, str]:
    """(the step, what follows its separator): a candidate's text cut at its first separator after content."""
    at = separator_at(text, separator)
    if at < 0:
        return text.strip(), ""
    return text[:at].strip(), text[at + len(separator):]


def score_last_steps(scorer: StepScorer, prompt: str, prefixes: Sequence[Sequence[str]]) -> list[float]:
    """The score of the last step of each step list; one batched call when the scorer has `score_batch`
    (prm_scoring.PRMScorer: [(prompt, steps), ...] -> scores per step)."""
    batched = getattr(scorer, "score_batch", None)
    if callable(batched):
        rows = batched([(prompt, list(p)) for p in prefixes])
    else:
        rows = [scorer.score_steps(prompt, list(p)) for p in prefixes]
    # an empty step (eos at once, only whitespace) or one past the PRM's context (nan) is never preferred
    return [float(r[-1]) if len(r) and p[-1] and math.isfinite(float(r[-1])) else float("-inf")
            for r, p in zip(rows, prefixes)]


class ProcessReward:
    """A PRM seen as a one-objective outcome reward (for best-of-N): a response is as good as its worst step
    (the min over steps of P(good), the usual PRM aggregate for ranking whole solutions)."""

    def __init__(self, scorer: StepScorer, separator: str = "\n", objective: str = "steps") -> None:
        self.scorer = scorer
        self.separator = separator
        self.objectives = [objective]

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        items = [(p, steps_of(r, self.separator)) for p, r in zip(prompts, responses, strict=True)]
        batched = getattr(self.scorer, "score_batch", None)
        rows = batched(items) if callable(batched) else [self.scorer.score_steps(p, s) for p, s in items]
        # no step, or a step the PRM could not read (nan: past its context), ranks last
        return np.array([[min(r) if len(r) and all(math.isfinite(v) for v in r) else 0.0] for r in rows])


@dataclass
class GuidedStep:
    """One accepted step: its text, its PRM score, and every candidate considered for it (text, score; the kept
    one included), in sampling order."""

    text: str
    score: float
    candidates: list[tuple[str, float]] = field(default_factory=list)
    chosen: int = 0
    piece: str = ""  # the raw text the step added to the response (separator included): streamed pieces add up

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "score": _json_score(self.score), "chosen": self.chosen,
                "candidates": [{"text": t, "score": _json_score(s)} for t, s in self.candidates]}


def _json_score(value: float) -> float | None:
    """JSON has no infinity: an unscorable (empty) candidate is null."""
    return round(value, 6) if np.isfinite(value) else None


@dataclass
class GuidedResult:
    """What a guided generation produced: `text` (the decode of `ids`), how it ended, tokens decoded in total
    (candidates that were thrown away included: the compute spent), and per mode: `steps` (step search) or
    `candidates` with their score vectors (best-of-N)."""

    text: str
    ids: list[int]
    finish: str  # "eos" | "length" | "max_steps" | "cancelled"
    tokens: int
    seconds: float
    steps: list[GuidedStep] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    chosen: int = 0


@dataclass(frozen=True)
class SearchSettings:
    """Step search knobs: k candidates per step, at most max_steps steps, a step is cut at `separator` or after
    max_step_tokens tokens. The response's total budget is GenerationSettings.max_new_tokens."""

    k: int = 4
    max_steps: int = 20
    max_step_tokens: int = 64
    separator: str = "\n"

    def __post_init__(self) -> None:
        if not 1 <= self.k <= MAX_CANDIDATES:
            raise ValueError(f"candidates per step must be between 1 and {MAX_CANDIDATES}; got {self.k}")
        if self.max_steps < 1 or self.max_step_tokens < 1:
            raise ValueError("max steps and max tokens per step must be at least 1")
        if not self.separator:
            raise ValueError("the step separator cannot be empty")


def _step_done(separator: str, tokenizer: Any) -> Callable[[list[int]], bool]:
    """True once the decoded text holds the separator after some content (a leading separator is not a step)."""
    def done(ids: list[int]) -> bool:
        return separator_at(tokenizer.decode(ids, skip_special_tokens=True), separator) >= 0

    return done


def step_search(model: Any, tokenizer: Any, prompt_ids: list[int], prompt: str, scorer: StepScorer,
                settings: GenerationSettings, search: SearchSettings = SearchSettings(), *,
                reuse_cache: bool = True, cancel: threading.Event | None = None,
                on_step: Callable[[GuidedStep], None] | None = None) -> GuidedResult:
    """PRM-guided step search (module docstring). `prompt` is the text the PRM reads before the steps;
    `prompt_ids` what the policy reads (its chat template applied). `on_step` hears each accepted step."""
    start = time.perf_counter()
    eos = _eos_ids(tokenizer, model)
    generator = make_generator(model, settings.seed)
    done = _step_done(search.separator, tokenizer)
    state: Prefix = encode_prefix(model, prompt_ids, use_cache=reuse_cache)
    response: list[int] = []
    steps: list[GuidedStep] = []
    carry = ""  # text a winner wrote past its separator (inside its last token): the start of the next step
    tokens, finish = 0, "max_steps"
    while len(steps) < search.max_steps:
        budget = min(search.max_step_tokens, settings.max_new_tokens - len(response))
        if budget < 1:
            finish = "length"
            break
        batch = sample_candidates(model, state, search.k, settings, eos=eos, max_tokens=budget,
                                  generator=generator, stop=done, cancel=cancel)
        tokens += sum(len(c.ids) for c in batch.candidates)
        if any(c.finish == "cancelled" for c in batch.candidates):
            finish = "cancelled"
            break
        before = tokenizer.decode(response, skip_special_tokens=True)
        pieces = [new_text(tokenizer, response, before, c.ids) for c in batch.candidates]
        cut = [cut_step(carry + piece, search.separator) for piece in pieces]
        accepted = [s.text for s in steps]
        scores = score_last_steps(scorer, prompt, [[*accepted, text] for text, _ in cut])
        best = int(np.argmax(scores))
        step = GuidedStep(cut[best][0], scores[best], chosen=best, piece=pieces[best],
                          candidates=[(text, v) for (text, _), v in zip(cut, scores)])
        steps.append(step)
        if on_step is not None:
            on_step(step)
        winner: Candidate = batch.candidates[best]
        response += winner.ids
        carry = cut[best][1]
        if winner.finish == "eos":
            finish = "eos"
            break
        state = promote(batch, best, keep_cache=reuse_cache)
    text = tokenizer.decode(response, skip_special_tokens=True)
    return GuidedResult(text, response, finish, tokens, time.perf_counter() - start, steps=steps)


def sample(model: Any, tokenizer: Any, prompt_ids: list[int], settings: GenerationSettings, n: int = 1, *,
           cancel: threading.Event | None = None) -> list[Candidate]:
    """n independent samples of a whole response, decoded as one batch from one prompt pass (seeded)."""
    batch = sample_candidates(model, encode_prefix(model, prompt_ids), n, settings, eos=_eos_ids(tokenizer, model),
                              max_tokens=settings.max_new_tokens, generator=make_generator(model, settings.seed),
                              cancel=cancel)
    return batch.candidates


def weighted_totals(scores: np.ndarray, objectives: Sequence[str], weights: dict[str, Any]) -> tuple[np.ndarray,
                                                                                                     dict[str, float]]:
    """Σ_k w_k·r_k per row of `scores` [n, K] with the weights checked and normalised by core.weights."""
    clean = validate_weights(weights, list(objectives))
    w = np.array([clean[o] for o in objectives], dtype=float)
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape[1] != len(objectives):
        raise ValueError(f"the reward model returned scores of shape {scores.shape}; expected [n, {len(objectives)}]")
    return scores @ w, clean


def best_of_n(model: Any, tokenizer: Any, prompt_ids: list[int], prompt: str, scorer: VectorScorer,
              weights: dict[str, Any] | None, settings: GenerationSettings, n: int, *,
              cancel: threading.Event | None = None) -> GuidedResult:
    """Best of n samples by the weighted reward (module docstring); weights None = every objective alike. Every
    candidate comes back with its score per objective and its weighted total."""
    if not 1 <= n <= MAX_CANDIDATES:
        raise ValueError(f"best-of-N needs N between 1 and {MAX_CANDIDATES}; got {n}")
    objectives = list(scorer.objectives)
    weights = weights if weights else {o: 1.0 for o in objectives}
    validate_weights(weights, objectives)  # refuse bad weights before spending the generation
    start = time.perf_counter()
    rows = sample(model, tokenizer, prompt_ids, settings, n, cancel=cancel)
    if any(r.finish == "cancelled" for r in rows):
        return GuidedResult("", [], "cancelled", sum(len(r.ids) for r in rows), time.perf_counter() - start)
    texts = [tokenizer.decode(r.ids, skip_special_tokens=True) for r in rows]
    scores = np.asarray(scorer.score([prompt] * n, texts), dtype=float)
    totals, clean = weighted_totals(scores, objectives, weights)
    best = int(np.argmax(totals))
    candidates = [{"text": t, "scores": {o: float(v) for o, v in zip(objectives, s)}, "total": float(tot),
                   "finish": r.finish} for t, s, tot, r in zip(texts, scores, totals, rows)]
    chosen = rows[best]
    return GuidedResult(texts[best], chosen.ids, "eos" if chosen.finish == "eos" else "length",
                        sum(len(r.ids) for r in rows), time.perf_counter() - start, candidates=candidates,
                        chosen=best)
