"""Pure round bookkeeping: pair policies on hand-made scores, prompt slices, automatic labels, step order."""

from __future__ import annotations

import pytest

from workbench.core.rounds import (RoundSettings, Sample, ScorerSet, agreement, auto_choice, build_pair, human_pair,
                                   is_automatic, next_step, round_prompts)

# prompt with 3 policy samples (ids 1-3), 2 round-0 samples (10, 11), 2 parent samples (20, 21); brevity = words
SAMPLES = [Sample(1, "policy", {"words": 5.0}), Sample(2, "policy", {"words": 9.0}),
           Sample(3, "policy", {"words": 7.0}), Sample(10, "anchor", {"words": 30.0}),
           Sample(11, "anchor", {"words": 12.0}), Sample(20, "parent", {"words": 15.0}),
           Sample(21, "parent", {"words": 6.0})]


def test_best_worst_takes_both_sides_from_the_policy() -> None:
    choice = build_pair(SAMPLES, "words", "minimize", RoundSettings(policy="best_worst"))
    assert (choice.chosen, choice.rejected, choice.gap) == (1, 2, 4.0)
    choice = build_pair(SAMPLES, "words", "maximize", RoundSettings(policy="best_worst"))
    assert (choice.chosen, choice.rejected, choice.gap) == (2, 1, 4.0)


def test_anchored_rejection_takes_rejected_from_the_round0_samples() -> None:
    choice = build_pair(SAMPLES, "words", "minimize", RoundSettings(policy="anchored"))
    assert (choice.chosen, choice.rejected, choice.gap) == (1, 10, 25.0)  # worst round-0 answer: 30 words


def test_latest_chosen_rejects_the_parents_worst() -> None:
    choice = build_pair(SAMPLES, "words", "minimize", RoundSettings(policy="latest_chosen"))
    assert (choice.chosen, choice.rejected, choice.gap) == (1, 20, 10.0)


def test_margin_policy_drops_small_gaps_and_ties_give_no_pair() -> None:
    assert build_pair(SAMPLES, "words", "minimize", RoundSettings(policy="margin", margin=4.5)) is None
    assert build_pair(SAMPLES, "words", "minimize", RoundSettings(policy="margin", margin=4.0)).gap == 4.0
    tied = [Sample(1, "policy", {"w": 3.0}), Sample(2, "policy", {"w": 3.0})]
    assert build_pair(tied, "w", "maximize", RoundSettings()) is None


def test_anchored_in_round_1_falls_back_to_the_policy_itself() -> None:
    policy_only = [s for s in SAMPLES if s.source == "policy"]
    choice = build_pair(policy_only, "words", "minimize", RoundSettings(policy="anchored"))
    assert (choice.chosen, choice.rejected) == (1, 2)
    assert RoundSettings(policy="anchored").sources(1) == ["policy"]
    assert RoundSettings(policy="anchored").sources(2) == ["policy", "anchor"]
    assert RoundSettings(policy="latest_chosen").sources(3) == ["policy", "parent"]


def test_human_pair_and_auto_choice() -> None:
    assert human_pair(SAMPLES, RoundSettings(labeller="human")) == (1, 10)
    assert human_pair(SAMPLES[:3], RoundSettings(labeller="human")) == (1, 2)
    assert auto_choice(4.0, True, RoundSettings()) == "a"
    assert auto_choice(4.0, False, RoundSettings()) == "b"
    assert auto_choice(4.0, True, RoundSettings(labeller="human")) is None
    mix = RoundSettings(labeller="mix", mix_confidence=5.0)
    assert auto_choice(4.0, True, mix) is None and auto_choice(5.0, False, mix) == "b"


def test_round_prompts_keep_eval_fixed_and_walk_the_rest() -> None:
    settings = RoundSettings(prompts_per_round=3, eval_prompts=2)
    pool = [7, 1, 2, 3, 4, 5, 6]
    assert round_prompts(pool, settings, 1) == ([3, 4, 5], [1, 2])
    assert round_prompts(pool, settings, 2) == ([6, 7, 3], [1, 2])  # wraps around the 5 training prompts
    assert round_prompts([1, 2], settings, 1) == ([], [1, 2])


def test_settings_problems_steps_and_agreement() -> None:
    assert RoundSettings(labeller="scorers").problems(["a"]) == [
        "give a label scorer for objective(s) a (label_scorers)"]
    assert RoundSettings(policy="nope", samples=1).problems([])[:2] == [
        "policy must be one of best_worst, margin, anchored, latest_chosen, not 'nope'",
        "samples must be at least 2 (a pair needs two answers)"]
    with pytest.raises(ValueError, match="unknown round setting"):
        RoundSettings.from_dict({"samples": 2, "bogus": 1})
    assert next_step({"generate": True}) == "label"
    assert next_step({s: True for s in ("generate", "label", "train", "evaluate")}) is None
    assert agreement([("a", "a"), ("a", "b"), ("tie", "a"), ("b", "b")]) == pytest.approx(2 / 3)
    assert agreement([]) is None
    assert is_automatic("auto:scorer:brevity") and not is_automatic("alice")


def test_scorer_set_scores_every_text() -> None:
    scorer = ScorerSet({"words": lambda p, r, m: len(r.split()), "chars": lambda p, r, m: len(r)})
    assert scorer.scores("q", ["a b", "abc"]) == [{"words": 2.0, "chars": 3.0}, {"words": 1.0, "chars": 3.0}]


def test_label_order_tiers() -> None:
    """A round's Label step: parent-run margins (smallest |m|), then the scorers' gap (smallest), then pair id."""
    from workbench.core.rounds import label_order

    assert label_order([5, 1, 2, 3, 4], {2: 0.9, 3: -0.1, 5: 0.5}, {4: 0.2, 1: 0.05}) == [3, 5, 2, 1, 4]
    assert label_order([3, 1, 2, 1], {}, {}) == [1, 2, 3]  # no run, no scores: generation order, once each
