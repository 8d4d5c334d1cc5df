"""On-policy rounds (issue #15): the bookkeeping of generate -> label -> train -> evaluate that needs no I/O.

A round samples k answers per prompt from the current policy (round 1: the round-0 model, i.e. the base; round n:
round n-1's final checkpoint), has them labelled, builds preference pairs with a pair policy, trains the next
adapter starting from the parent's, and evaluates it on a fixed set of held-out prompts. The seeds this follows:
Direct Nash Optimization's batched on-policy rounds (Rosset et al. 2024, arXiv:2404.03715), Temporal
Self-Rewarding's anchored rejection / future-guided chosen (arXiv:2508.06026), active preference learning.

Pair policies (per prompt and objective; "best" and "worst" follow the objective's direction):
- best_worst:    chosen = best of the current policy's k samples, rejected = worst of them.
- margin:        best_worst, kept only when the chosen-rejected score gap is at least `margin`.
- anchored:      chosen = best current sample, rejected = worst sample of the round-0 model (anchored rejection:
                 the rejected side stays anchored to the initial model, so the gap cannot collapse as the policy
                 improves).
- latest_chosen: chosen = best current sample (the latest checkpoint), rejected = worst sample of the parent model
                 (the previous round's policy), as in future-guided chosen.

Labellers: "scorers" (automatic: the objective's scorer decides), "human" (pairs go to the Label panel; pairs are
then built without scores, see `human_pair`), and "mix": the automatic side labels the pairs whose |score gap| is at
least `mix_confidence`, people label the rest. The automatic side is anything with the `SampleScorer` shape; today
the project's scorer functions, and the vector reward model (issue #17) plugs in as another without changing
rounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

STEPS = ("generate", "label", "train", "evaluate")
POLICIES = ("best_worst", "margin", "anchored", "latest_chosen")
LABELLERS = ("scorers", "human", "mix")
SOURCES = ("policy", "anchor", "parent")  # who generated a sample: this round's policy, round-0 model, parent
AUTO_PREFIX = "auto:"  # annotator names of automatic labellers ("auto:scorer:length_tokens"); people never get it


def auto_annotator(settings: RoundSettings, objective: str) -> str:
    """The annotator name of a round's automatic labels for `objective`: the scorer's, or the reward model's."""
    if settings.label_reward_model:
        return f"{AUTO_PREFIX}reward_model:{settings.label_reward_model.rstrip('/').split('/')[-1]}"
    return f"{AUTO_PREFIX}scorer:{settings.label_scorers.get(objective, objective)}"


def is_automatic(annotator_name: str) -> bool:
    """The one rule for "was this label made by a machine?" (rounds' label counts and human/model agreement)."""
    return annotator_name.startswith(AUTO_PREFIX)


@dataclass
class RoundSettings:
    """How each round of a loop samples, labels and builds pairs (stored with every round)."""

    prompts_per_round: int = 8
    samples: int = 4
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 48
    policy: str = "best_worst"
    margin: float = 0.0
    labeller: str = "scorers"
    label_scorers: dict = field(default_factory=dict)  # objective -> scorer name (scorers / mix)
    label_reward_model: str = ""  # a reward_model run's checkpoint folder: it labels instead of label_scorers
    mix_confidence: float = 1.0
    eval_prompts: int = 8  # the first N prompts of the pool, never sampled from: the fixed evaluation set
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoundSettings:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown round setting(s): {', '.join(unknown)}")
        return cls(**dict(data))

    def problems(self, objectives: Sequence[str]) -> list[str]:
        out: list[str] = []
        if self.policy not in POLICIES:
            out.append(f"policy must be one of {', '.join(POLICIES)}, not {self.policy!r}")
        if self.labeller not in LABELLERS:
            out.append(f"labeller must be one of {', '.join(LABELLERS)}, not {self.labeller!r}")
        if self.samples < 2:
            out.append("samples must be at least 2 (a pair needs two answers)")
        if self.prompts_per_round < 1:
            out.append("prompts_per_round must be at least 1")
        if self.max_new_tokens < 1:
            out.append("max_new_tokens must be at least 1")
        if self.labeller in ("scorers", "mix") and not self.label_reward_model:
            missing = [o for o in objectives if o not in self.label_scorers]
            if missing:
                out.append(f"give a label scorer for objective(s) {', '.join(missing)} (label_scorers)")
        return out

    def sources(self, round_number: int) -> list[str]:
        """Which models a round samples from: always its policy; the round-0 model for anchored rejection and the
        parent for latest_chosen, unless that model is the policy itself (round 1 / round 2 respectively)."""
        out = ["policy"]
        if self.policy == "anchored" and round_number > 1:
            out.append("anchor")
        if self.policy == "latest_chosen" and round_number > 1:
            out.append("parent")
        return out


def round_prompts(pool: Sequence[int], settings: RoundSettings, round_number: int) -> tuple[list[int], list[int]]:
    """(training prompts of this round, fixed evaluation prompts) from the pool of prompt ids (sorted).

    The first `eval_prompts` ids are the evaluation set for every round; the rest are used in consecutive slices of
    `prompts_per_round`, wrapping around when the pool is exhausted."""
    ids = sorted(pool)
    evaluation, rest = ids[:settings.eval_prompts], ids[settings.eval_prompts:]
    if not rest:
        return [], evaluation
    n = min(settings.prompts_per_round, len(rest))
    start = ((round_number - 1) * n) % len(rest)
    return [rest[(start + i) % len(rest)] for i in range(n)], evaluation


@dataclass(frozen=True)
class Sample:
    """One generated answer with its scores (objective -> value; empty for human-labelled rounds)."""

    response_id: int
    source: str
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PairChoice:
    """A pair a policy built for one objective: chosen/rejected response ids and the signed score gap (> 0 means
    the chosen side scores better in the objective's direction)."""

    objective: str
    chosen: int
    rejected: int
    gap: float


def _signed(value: float, direction: str) -> float:
    return value if direction == "maximize" else -value


def build_pair(samples: Sequence[Sample], objective: str, direction: str, settings: RoundSettings
               ) -> PairChoice | None:
    """The pair of one prompt for one objective under the round's policy (module docstring), or None when the
    policy finds no valid pair (too few samples of a source, equal scores, a gap under the margin)."""
    def ranked(source: str) -> list[Sample]:
        rows = [s for s in samples if s.source == source and objective in s.scores]
        return sorted(rows, key=lambda s: (_signed(s.scores[objective], direction), -s.response_id), reverse=True)

    current = ranked("policy")
    if not current:
        return None
    rejected_pool = {"anchored": ranked("anchor"), "latest_chosen": ranked("parent")}.get(settings.policy, current)
    if not rejected_pool:  # round 1 (anchor/parent is the policy itself)
        rejected_pool = current
    chosen, rejected = current[0], rejected_pool[-1]
    if chosen.response_id == rejected.response_id:
        return None
    gap = _signed(chosen.scores[objective], direction) - _signed(rejected.scores[objective], direction)
    if gap <= 0 or (settings.policy == "margin" and gap < settings.margin):
        return None
    return PairChoice(objective, chosen.response_id, rejected.response_id, gap)


def human_pair(samples: Sequence[Sample], settings: RoundSettings) -> tuple[int, int] | None:
    """Without scores (human labelling) a prompt gets one pair, labelled for every objective: the first policy
    sample against the first anchor/parent sample (anchored / latest_chosen), else the first two policy samples."""
    current = [s.response_id for s in samples if s.source == "policy"]
    other = [s.response_id for s in samples if s.source in ("anchor", "parent")]
    ids = sorted(dict.fromkeys(current))
    if other and ids:
        return ids[0], min(other)
    return (ids[0], ids[1]) if len(ids) >= 2 else None


class SampleScorer(Protocol):
    """Rates a prompt's samples, one {objective: score} per answer: what pair policies rank by and automatic
    labels follow. The project's scorer functions are one (`ScorerSet`); a trained vector reward model is another
    (RoundSettings.label_reward_model: inference.reward_scoring.RewardModelLabeller, its reward vector per answer),
    with nothing else in rounds changing."""

    name: str
    directions: Mapping[str, str]  # objective -> "maximize" | "minimize": which end of a score is better

    def scores(self, prompt: str, texts: Sequence[str]) -> list[dict[str, float]]: ...


@dataclass(frozen=True)
class ScorerSet:
    """The objectives' scorer functions (core.scorers.Scorer, called as scorer(prompt, response, meta)); each
    scorer's own direction says which end is better (a word count for brevity is minimised)."""

    by_objective: Mapping[str, Any]
    name: str = "scorers"

    @property
    def directions(self) -> dict[str, str]:
        return {o: getattr(fn, "direction", "maximize") for o, fn in self.by_objective.items()}

    def scores(self, prompt: str, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{o: float(fn(prompt, t, {})) for o, fn in self.by_objective.items()} for t in texts]


def auto_choice(gap: float, chosen_is_a: bool, settings: RoundSettings) -> str | None:
    """'a' / 'b' when the round's labeller labels a pair automatically, given the signed gap of its chosen side;
    None when people label it (a human round; a mix round's pair whose |gap| is under mix_confidence; a tie)."""
    if settings.labeller == "human" or gap == 0:
        return None
    if settings.labeller == "mix" and abs(gap) < settings.mix_confidence:
        return None
    return "a" if (gap > 0) == chosen_is_a else "b"


def label_order(pair_ids: Sequence[int], margins: Mapping[int, float], gaps: Mapping[int, float]) -> list[int]:
    """The active order of a round's Label step (uncertainty first; Settles 2009, §3.1), in three tiers:
    1. pairs with an implicit-reward margin of the round's parent run (the policy that sampled them), smallest |m|
       first; 2. pairs the automatic labeller scored (mix rounds: its unconfident pairs), smallest |gap| first;
    3. the rest (round 1: the base model has no run; human rounds: no scores) in generation order (pair id)."""
    def key(pid: int) -> tuple[int, float, int]:
        if pid in margins:
            return 0, abs(float(margins[pid])), pid
        if pid in gaps:
            return 1, abs(float(gaps[pid])), pid
        return 2, 0.0, pid

    return sorted(dict.fromkeys(pair_ids), key=key)


def next_step(done: Mapping[str, bool]) -> str | None:
    """The first step of STEPS not done yet (None: the round is complete)."""
    return next((s for s in STEPS if not done.get(s)), None)


def agreement(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Fraction of (human choice, automatic choice) pairs that agree; None without any overlap."""
    decisive = [(h, m) for h, m in pairs if h in ("a", "b") and m in ("a", "b")]
    return sum(h == m for h, m in decisive) / len(decisive) if decisive else None
