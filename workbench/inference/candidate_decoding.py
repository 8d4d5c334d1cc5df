"""Batched sampling of candidate continuations from a shared, cached prefix (the engine of guided_decoding.py).

The prefix (prompt + the steps accepted so far) is encoded once into a `Prefix`: its KV cache and the logits of
the next token. `sample_candidates` copies that cache, repeats it k times along the batch and decodes k
continuations in lock-step, one forward pass per new token for all of them; a row stops at eos, at `stop(text)`
or at `max_tokens`, and keeps its own cache length and next-token logits at the moment it stopped. `promote`
turns one candidate into the new running Prefix (its row of the batched cache, cropped to its own tokens), so the
prefix is never re-encoded: the KV-cache continuation of the MAH-DPO reference code (peers-prm.md §4), batched.

Rows decode together without padding (they share the same prefix length), so no attention mask is needed. Rows
that stopped early keep receiving their last token until the others finish; what that appends to their cache is
cut off by `promote`.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from workbench.inference.generation import GenerationSettings


@dataclass
class Prefix:
    """What the model has read: `ids` (prompt + accepted tokens), their KV cache (None when re-encoding is
    forced) and `logits`, the [V] next-token logits after them."""

    ids: list[int]
    cache: Any
    logits: Tensor


@dataclass
class Candidate:
    """One sampled continuation: new token ids (eos included when produced), how it ended, and the state needed to
    continue from it (`row` in the batched cache, `logits` after its last token; None after eos)."""

    ids: list[int]
    finish: str  # "eos" | "stop" (the stop rule fired: a step ended) | "length" | "cancelled"
    row: int
    logits: Tensor | None = None


@dataclass
class CandidateBatch:
    candidates: list[Candidate]
    cache: Any  # the batched cache after decoding: row i belongs to candidates[i]
    prefix: Prefix


def model_device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _cache_keyword(model: Any) -> str:
    """transformers 5.2x names the forward's cache argument `cache` (`past_key_values` is deprecated there);
    earlier versions only know `past_key_values`."""
    inner = model
    while hasattr(inner, "get_base_model"):  # PEFT wrappers pass keyword arguments through
        inner = inner.get_base_model()
    return "cache" if "cache" in inspect.signature(type(inner).forward).parameters else "past_key_values"


def forward(model: Any, ids: Tensor, cache: Any = None) -> tuple[Any, Tensor]:
    """(the cache after reading `ids` [B, T], the last position's logits [B, V] in fp32)."""
    extra = {_cache_keyword(model): cache} if cache is not None else {}
    out = model(input_ids=ids, use_cache=True, **extra)
    new_cache = getattr(out, "cache", None)
    if new_cache is None:
        new_cache = out.past_key_values
    return new_cache, out.logits[:, -1].float()


@torch.no_grad()
def encode_prefix(model: Any, ids: list[int], *, use_cache: bool = True) -> Prefix:
    """One forward pass over `ids`. With use_cache=False the cache is dropped (each step then re-encodes its whole
    prefix: the reference the KV-cache path is tested against, and what models without a croppable cache need)."""
    if not ids:
        raise ValueError("the prompt encodes to no tokens; type a prompt")
    cache, logits = forward(model, torch.tensor([ids], dtype=torch.long, device=model_device(model)))
    return Prefix(list(ids), cache if use_cache else None, logits[0])


def next_tokens(logits: Tensor, settings: GenerationSettings, generator: torch.Generator | None) -> Tensor:
    """[B] next token ids from [B, V] logits: argmax when settings.greedy, else temperature, top-k and top-p
    (nucleus: the smallest set of tokens whose probability reaches top_p) as GenerationSettings documents."""
    if settings.greedy:
        return logits.argmax(dim=-1)
    scores = logits.float() / settings.temperature
    if settings.top_k > 0 and settings.top_k < scores.shape[-1]:
        kth = torch.topk(scores, settings.top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if settings.top_p < 1.0:
        ordered, order = torch.sort(scores, descending=True, dim=-1)
        probs = ordered.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the better tokens; the token that crosses top_p stays
        ordered = ordered.masked_fill(before >= settings.top_p, float("-inf"))
        scores = torch.full_like(scores, float("-inf")).scatter(-1, order, ordered)
    return torch.multinomial(scores.softmax(dim=-1), 1, generator=generator).squeeze(-1)


def make_generator(model: Any, seed: int) -> torch.Generator:
    device = model_device(model)
    return torch.Generator(device=device if device.type != "mps" else "cpu").manual_seed(int(seed))


def _multinomial_device(logits: Tensor, generator: torch.Generator | None) -> Tensor:
    return logits if generator is None or generator.device == logits.device else logits.to(generator.device)


@torch.no_grad()
def sample_candidates(model: Any, prefix: Prefix, k: int, settings: GenerationSettings, *, eos: set[int],
                      max_tokens: int, generator: torch.Generator | None,
                      stop: Callable[[list[int]], bool] | None = None,
                      cancel: threading.Event | None = None) -> CandidateBatch:
    """k continuations of `prefix` decoded together (module docstring). `stop(ids)` is asked after every token of
    a row (e.g. "does the decoded text hold a step separator now?")."""
    device = model_device(model)
    if prefix.cache is None:  # re-encode mode: a fresh cache of the prefix for this batch
        prefix = Prefix(prefix.ids, encode_prefix(model, prefix.ids).cache, prefix.logits)
    cache = copy.deepcopy(prefix.cache)  # the running cache stays untouched: candidates decode from a copy
    if k > 1:
        cache.batch_repeat_interleave(k)
    logits = prefix.logits.to(device).unsqueeze(0).expand(k, -1)  # [k, V]
    rows = [Candidate([], "", i) for i in range(k)]
    active = list(range(k))
    for _ in range(max(1, max_tokens)):
        if cancel is not None and cancel.is_set():
            for i in active:
                rows[i].finish = "cancelled"
            break
        picked = next_tokens(_multinomial_device(logits, generator), settings, generator).to(device)  # [k]
        ended: list[int] = []
        for i in active:
            token = int(picked[i])
            rows[i].ids.append(token)
            if token in eos:
                rows[i].finish = "eos"
                ended.append(i)
            elif stop is not None and stop(rows[i].ids):
                rows[i].finish = "stop"
            elif len(rows[i].ids) >= max_tokens:
                rows[i].finish = "length"
        need_state = [i for i in active if rows[i].finish in ("stop", "length", "")]
        active = [i for i in active if not rows[i].finish]
        if not need_state:
            break
        # feed every row its token (finished rows: their last one; cut off again by promote)
        feed = torch.tensor([[r.ids[-1]] for r in rows], dtype=torch.long, device=device)
        cache, logits = forward(model, feed, cache)  # logits [k, V]
        for i in need_state:
            if rows[i].finish:
                rows[i].logits = logits[i].clone()
        if not active:
            break
    for r in rows:
        if not r.finish:  # max_tokens < 1 guard; the loop always runs at least once
            r.finish = "length"
    return CandidateBatch(rows, cache, prefix)


def promote(batch: CandidateBatch, index: int, *, keep_cache: bool = True) -> Prefix:
    """The running state after accepting candidate `index`: its row of the batched cache, cropped to the prefix
    plus its own tokens, and its next-token logits. Not defined after eos (nothing follows)."""
    chosen = batch.candidates[index]
    if chosen.logits is None:
        raise ValueError("a candidate that ended with eos has no continuation")
    ids = batch.prefix.ids + chosen.ids
    if not keep_cache:
        return Prefix(ids, None, chosen.logits)
    cache = batch.cache
    if len(batch.candidates) > 1:
        cache.batch_select_indices(torch.tensor([index], device=chosen.logits.device))
    extra = cache.get_seq_length() - len(ids)
    if extra > 0:
        cache.crop(-extra)  # negative = remove that many tokens (transformers 4.4x and 5 alike)
    return Prefix(ids, cache, chosen.logits)
