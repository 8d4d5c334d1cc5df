"""One streamed generation: validated sampling settings, the chat-formatted prompt, and `model.generate` running on a
thread while the caller forwards TextIteratorStreamer pieces as protocol `token` events.

Why a thread: `generate` blocks until it is done, but the GUI wants every piece as it appears and a Stop button
that works between tokens. The generation thread pushes text into the streamer's queue; the worker's main thread
pops it and writes `token` lines; a StoppingCriteria reads a cancel flag that the stdin reader sets.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from workbench.core.errors import RunError

MAX_SAMPLES = 16


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling settings of one `generate` request. temperature 0 means greedy decoding (no randomness at all);
    top_k 0 and top_p 1 switch those filters off. A missing seed is drawn at random and reported back in the result,
    so any generation can be repeated exactly."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 0
    max_new_tokens: int = 128
    seed: int = 0
    n: int = 1

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    @classmethod
    def from_request(cls, data: dict[str, Any]) -> GenerationSettings:
        """Read the settings of a generate command; a bad value raises RunError naming the setting and its range."""
        defaults = cls()
        temperature = _number(data, "temperature", defaults.temperature, 0.0, 100.0)
        top_p = _number(data, "top_p", defaults.top_p, 0.0, 1.0)
        if top_p <= 0.0:
            raise RunError("top_p must be above 0 (1 = keep every token); got 0")
        top_k = int(_number(data, "top_k", defaults.top_k, 0, 1_000_000, integer=True))
        max_new = int(_number(data, "max_new_tokens", defaults.max_new_tokens, 1, 1_000_000, integer=True))
        n = int(_number(data, "n", 1, 1, MAX_SAMPLES, integer=True))
        raw_seed = data.get("seed")
        seed = secrets.randbelow(2**31) if raw_seed is None else int(_number(data, "seed", 0, 0, 2**63 - 1,
                                                                              integer=True))
        return cls(temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new, seed=seed, n=n)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(data: dict[str, Any], key: str, default: float, low: float, high: float, *,
            integer: bool = False) -> float:
    value = data.get(key)
    if value is None:
        return default
    kind = "a whole number" if integer else "a number"
    span = f"{int(low)} and {int(high)}" if integer else f"{low:g} and {high:g}"
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or (integer and value != int(value)) or not low <= value <= high):
        raise RunError(f"{key} must be {kind} between {span}; got {value!r}")
    return float(value)


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of `prompt` as a user turn followed by the assistant's opening, when the tokenizer has a chat
    template (instruct models answer garbage to raw text); the raw text otherwise (base models)."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(prompt)["input_ids"])


class _Cancelled(StoppingCriteria):
    """Stops `generate` after the current token once `flag` is set (checked once per new token)."""

    def __init__(self, flag: threading.Event) -> None:
        self.flag = flag

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.flag.is_set(), dtype=torch.bool, device=input_ids.device)


@dataclass
class Sample:
    """What one streamed generation produced. `text` is the decode of the new token ids (not the concatenation of
    the streamed pieces), so a client can check that it saw every piece."""

    text: str
    tokens: int
    seed: int
    finish: str  # "eos" | "length" | "cancelled"
    seconds: float


def stream_sample(model: Any, tokenizer: Any, prompt_ids: list[int], settings: GenerationSettings, seed: int,
                  cancel: threading.Event, on_text: Callable[[str], None]) -> Sample:
    """Generate one sample, calling `on_text` with each decoded piece as it appears. Exceptions of the
    generation thread (out of memory, ...) are re-raised here, in the caller's thread."""
    device = next(model.parameters()).device
    input_ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    kwargs = _generate_kwargs(tokenizer, settings)
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            torch.manual_seed(seed)
            with torch.inference_mode():
                outcome["ids"] = model.generate(
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids), streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]), **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            outcome["error"] = exc
            streamer.end()  # wake the consumer loop

    start = time.perf_counter()
    thread = threading.Thread(target=work, name="generate", daemon=True)
    thread.start()
    for piece in streamer:
        if piece:
            on_text(piece)
    thread.join()
    seconds = time.perf_counter() - start
    if "error" in outcome:
        raise outcome["error"]
    new_ids = outcome["ids"][0, input_ids.shape[1]:].tolist()
    text = tokenizer.decode(new_ids, skip_special_tokens=True)
    if new_ids and new_ids[-1] in _eos_ids(tokenizer, model):
        finish = "eos"
    elif cancel.is_set() and len(new_ids) < settings.max_new_tokens:
        finish = "cancelled"
    else:
        finish = "length"
    return Sample(text=text, tokens=len(new_ids), seed=seed, finish=finish, seconds=seconds)


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids


def _generate_kwargs(tokenizer: Any, settings: GenerationSettings) -> dict[str, Any]:
    """Every sampling knob is passed explicitly, so a model's own generation_config defaults (often top_k=50 or a
    repetition penalty) cannot silently change what the user asked for."""
    kwargs: dict[str, Any] = {"max_new_tokens": settings.max_new_tokens, "pad_token_id": tokenizer.pad_token_id,
                              "repetition_penalty": 1.0}
    if settings.greedy:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    else:
        kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k)
    return kwargs
