"""Reward-guided decoding (inference/guided_decoding.py) on the tiny model with oracle scorers: the step search
keeps the candidate its scorer ranks first, the KV-cache path decodes exactly what re-encoding decodes, and
best-of-N returns the argmax of the weighted reward vector."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.inference.conftest import greedy_text, load_base
from workbench.core.weights import WeightError
from workbench.inference.candidate_decoding import next_tokens
from workbench.inference.generation import GenerationSettings, encode_prompt
from workbench.inference.guided_decoding import (ProcessReward, SearchSettings, best_of_n, cut_step, sample,
                                                 step_search, steps_of)

PROMPT = "Tell me about the sea."


class VowelOracle:
    """A step scorer that knows what it wants: the share of vowels in a step. Records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    @staticmethod
    def value(step: str) -> float:
        letters = [c for c in step.lower() if c.isalpha()]
        return sum(c in "aeiou" for c in letters) / len(letters) if letters else 0.0

    def score_steps(self, prompt: str, steps: Sequence[str]) -> list[float]:
        self.calls.append((prompt, list(steps)))
        return [self.value(s) for s in steps]


class LengthRM:
    """A two-objective outcome 'reward model': brevity = -characters, detail = +characters."""

    objectives = ["brevity", "detail"]

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([[-len(r), len(r)] for r in responses], dtype=float)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    model, tokenizer = load_base(tiny_model_dir)
    return model, tokenizer, encode_prompt(tokenizer, PROMPT)


def test_steps_are_cut_at_the_first_separator_after_content():
    assert steps_of("a\n\nb \n c\n", "\n") == ["a", "b", "c"]
    assert cut_step("\n 3 + 4 = 7\nSo", "\n") == ("3 + 4 = 7", "So")  # a leading separator is no step
    assert cut_step("The answer is 7", "\n") == ("The answer is 7", "")
    assert cut_step("a ки b", " ки") == ("a", " b")


def test_sampler_filters():
    logits = torch.tensor([[0.0, 3.0, 2.9, -1.0]])
    gen = torch.Generator().manual_seed(0)
    assert next_tokens(logits, GenerationSettings(temperature=0.0), None).tolist() == [1]
    # top_k 1 and a tiny top_p both leave only the best token, whatever the temperature
    for s in (GenerationSettings(temperature=5.0, top_p=1.0, top_k=1), GenerationSettings(temperature=5.0, top_p=0.01)):
        assert {int(next_tokens(logits, s, gen)) for _ in range(50)} == {1}
    # top_p 0.6 keeps tokens 1 and 2 (0.51 + 0.46 of the mass), never 0 or 3
    seen = {int(next_tokens(logits, GenerationSettings(temperature=1.0, top_p=0.6), gen)) for _ in range(200)}
    assert seen == {1, 2}


def test_greedy_sample_matches_decoding_by_hand(tiny):
    model, tokenizer, ids = tiny
    [row] = sample(model, tokenizer, ids, GenerationSettings(temperature=0.0, max_new_tokens=12))
    assert tokenizer.decode(row.ids, skip_special_tokens=True) == greedy_text(model, tokenizer, PROMPT, 12)


def test_kv_cache_path_decodes_what_reencoding_decodes(tiny):
    """Greedy, one candidate per step: the search with the promoted cache, the search that re-encodes the prefix
    every step, and plain greedy decoding (a full forward pass per token) write the same tokens."""
    model, tokenizer, ids = tiny
    settings = GenerationSettings(temperature=0.0, max_new_tokens=30)
    search = SearchSettings(k=1, max_steps=30, max_step_tokens=6, separator=" ")
    cached = step_search(model, tokenizer, ids, PROMPT, VowelOracle(), settings, search, reuse_cache=True)
    fresh = step_search(model, tokenizer, ids, PROMPT, VowelOracle(), settings, search, reuse_cache=False)
    assert cached.ids == fresh.ids and len(cached.ids) >= 12
    assert [s.text for s in cached.steps] == [s.text for s in fresh.steps] and len(cached.steps) >= 3
    assert cached.text == greedy_text(model, tokenizer, PROMPT, len(cached.ids))


def test_kv_cache_path_with_sampled_candidates_matches_reencoding(tiny):
    """k = 4 sampled candidates per step: the same seed draws the same candidates in both paths, so the cached
    batch rows (cropped after promotion) hold exactly the re-encoded prefix's keys and values."""
    model, tokenizer, ids = tiny
    settings = GenerationSettings(temperature=1.0, top_p=1.0, max_new_tokens=24, seed=3)
    search = SearchSettings(k=4, max_steps=5, max_step_tokens=5, separator=" ")
    cached = step_search(model, tokenizer, ids, PROMPT, VowelOracle(), settings, search, reuse_cache=True)
    fresh = step_search(model, tokenizer, ids, PROMPT, VowelOracle(), settings, search, reuse_cache=False)
    assert cached.ids == fresh.ids
    assert [s.candidates for s in cached.steps] == [s.candidates for s in fresh.steps]


def test_step_search_keeps_the_candidate_the_oracle_ranks_first(tiny):
    model, tokenizer, ids = tiny
    oracle = VowelOracle()
    settings = GenerationSettings(temperature=1.2, top_p=1.0, max_new_tokens=40, seed=11)
    search = SearchSettings(k=6, max_steps=5, max_step_tokens=6, separator=" ")
    heard = []
    result = step_search(model, tokenizer, ids, PROMPT, oracle, settings, search, on_step=heard.append)
    assert len(result.steps) == 5 and result.finish == "max_steps" and heard == result.steps
    distinct = 0
    for n, step in enumerate(result.steps):
        values = [v for _, v in step.candidates]
        assert len(values) == 6
        assert step.chosen == int(np.argmax(values)) and step.score == max(values)
        assert step.text == step.candidates[step.chosen][0]
        assert step.score == pytest.approx(VowelOracle.value(step.text))
        distinct += len({t for t, _ in step.candidates}) > 1
    assert distinct >= 3  # real choices were made, not six copies of one candidate
    # the oracle always read the prompt and the accepted steps, then one candidate
    accepted = [s.text for s in result.steps]
    for n in range(5):
        batch = oracle.calls[n * 6:(n + 1) * 6]
        assert all(p == PROMPT and steps[:n] == accepted[:n] for p, steps in batch)
    # guidance paid off against the oracle: the kept steps beat the average candidate
    mean_kept = np.mean([s.score for s in result.steps])
    mean_all = np.mean([v for s in result.steps for _, v in s.candidates])
    assert mean_kept > mean_all
    again = step_search(model, tokenizer, ids, PROMPT, VowelOracle(), settings, search)
    assert again.ids == result.ids  # seeded: repeatable
    assert len(result.ids) < result.tokens <= 6 * len(result.ids)  # every candidate's tokens are counted


def test_best_of_n_picks_the_argmax_of_the_weighted_reward(tiny):
    model, tokenizer, ids = tiny
    settings = GenerationSettings(temperature=1.0, top_p=1.0, max_new_tokens=16, seed=5)
    short = best_of_n(model, tokenizer, ids, PROMPT, LengthRM(), {"brevity": 1, "detail": 0}, settings, n=6)
    long = best_of_n(model, tokenizer, ids, PROMPT, LengthRM(), {"brevity": 0.2, "detail": 0.8}, settings, n=6)
    lengths = [len(c["text"]) for c in short.candidates]
    assert len(set(lengths)) > 1
    assert [c["text"] for c in short.candidates] == [c["text"] for c in long.candidates]  # same seed, same samples
    assert short.text == short.candidates[int(np.argmin(lengths))]["text"]
    assert long.text == long.candidates[int(np.argmax(lengths))]["text"]
    # totals are the normalised weighted sums: 0.2·(−len) + 0.8·len = 0.6·len
    assert [c["total"] for c in long.candidates] == pytest.approx([0.6 * n for n in lengths])
    assert long.candidates[long.chosen]["scores"] == {"brevity": -lengths[long.chosen],
                                                      "detail": lengths[long.chosen]}
    with pytest.raises(WeightError, match="negative"):
        best_of_n(model, tokenizer, ids, PROMPT, LengthRM(), {"brevity": -1, "detail": 1}, settings, n=2)
    with pytest.raises(WeightError, match="unknown objective"):
        best_of_n(model, tokenizer, ids, PROMPT, LengthRM(), {"honesty": 1}, settings, n=2)


def test_process_reward_ranks_a_response_by_its_worst_step():
    rm = ProcessReward(VowelOracle(), separator="\n")
    scores = rm.score(["p", "p"], ["aaa\nbcd", "ae\nia"])
    assert rm.objectives == ["steps"] and scores[:, 0].tolist() == [0.0, 1.0]


def test_search_stops_at_the_token_budget_and_on_cancel(tiny):
    import threading

    model, tokenizer, ids = tiny
    settings = GenerationSettings(temperature=1.0, top_p=1.0, max_new_tokens=9, seed=1)
    search = SearchSettings(k=3, max_steps=50, max_step_tokens=4, separator=" ")
    result = step_search(model, tokenizer, ids, PROMPT, VowelOracle(), settings, search)
    assert result.finish in ("length", "eos") and len(result.ids) <= 9
    if result.finish == "length":
        assert len(result.ids) == 9
    flag = threading.Event()
    flag.set()
    cancelled = step_search(model, tokenizer, ids, PROMPT, VowelOracle(), settings, search, cancel=flag)
    assert cancelled.finish == "cancelled" and cancelled.steps == [] and cancelled.ids == []
