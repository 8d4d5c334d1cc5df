"""Which training pairs go into which micro-batch, per epoch (issue 11, item 1).

Two samplers, chosen by RunConfig.objective_sampling:
- "proportional": today's length-grouped batches over all pairs (training.data.length_grouped_batches). Each
  objective's share of the trunk's gradient follows its share of the pairs, and with objectives of different
  lengths most batches end up holding one objective only.
- "balanced" (the default for the multi-objective methods `weighted` and `mah_dpo`): every micro-batch holds the
  same number of pairs of every objective, as the MAH-DPO reference code does (equal per-objective shares of each
  batch). An epoch is one pass over the LARGEST objective; smaller objectives cycle (a fresh shuffle per cycle),
  so no pair of a large objective is dropped. Length grouping happens within an objective. With these batches the
  methods' total loss (MAH-DPO: mean_k L_k; weighted: Σ_k w_k L_k, each L_k a mean over objective k's pairs) is
  exactly LOSSES.md's: every objective's mean is over the same number of pairs in every step.

Both depend only on (data, indices, batch size, seed, epoch), so a resumed run sees the batches the
uninterrupted run would have seen (the trainer's Position holds epoch and batch).
"""

from __future__ import annotations

import math
import random

from workbench.core.run_config import RunConfig
from workbench.training.data import TokenizedData, length_grouped_batches

BALANCED_METHODS = ("weighted", "mah_dpo")


def uses_balanced(cfg: RunConfig, data: TokenizedData, indices: list[int]) -> bool:
    """Balanced sampling applies to the multi-objective methods (and the vector reward model, one output per
    objective) with 2+ objectives that have training pairs."""
    return (cfg.objective_sampling == "balanced" and (cfg.method in BALANCED_METHODS or cfg.kind == "reward_model")
            and len({data.objective[i] for i in indices}) >= 2)


def per_objective(batch_size: int, n_objectives: int) -> int:
    """Pairs of each objective per micro-batch: batch_size // K, at least 1 (a micro-batch then holds K pairs)."""
    return max(1, batch_size // max(1, n_objectives))


def _by_objective(data: TokenizedData, indices: list[int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i in indices:
        groups.setdefault(data.objective[i], []).append(i)
    return dict(sorted(groups.items()))


def _stream(data: TokenizedData, pairs: list[int], per: int, need: int, *, seed: int, epoch: int,
            objective: int) -> list[int]:
    """`need` pair indices of one objective: length-grouped passes over its pairs, reshuffled per cycle."""
    out: list[int] = []
    cycle = 0
    while len(out) < need:
        passes = length_grouped_batches(data, pairs, per, seed=seed * 7919 + objective,
                                        epoch=epoch * 100_003 + cycle)
        out.extend(i for b in passes for i in b)
        cycle += 1
    return out[:need]


def balanced_batches(data: TokenizedData, indices: list[int], batch_size: int, *, seed: int,
                     epoch: int) -> list[list[int]]:
    """Micro-batches with per_objective(batch_size, K) pairs of each of the K objectives (module docstring)."""
    groups = _by_objective(data, indices)
    if not groups:
        return []
    per = per_objective(batch_size, len(groups))
    n_batches = max(math.ceil(len(pairs) / per) for pairs in groups.values())
    streams = [_stream(data, pairs, per, n_batches * per, seed=seed, epoch=epoch, objective=k)
               for k, pairs in groups.items()]
    batches = [[i for s in streams for i in s[b * per:(b + 1) * per]] for b in range(n_batches)]
    random.Random(seed * 1_000_003 + epoch).shuffle(batches)  # the objectives' streams stay in step
    return batches


def epoch_batches(cfg: RunConfig, data: TokenizedData, indices: list[int], epoch: int) -> list[list[int]]:
    """The micro-batches of one epoch for this run (balanced or proportional, see the module docstring)."""
    if uses_balanced(cfg, data, indices):
        return balanced_batches(data, indices, cfg.batch_size, seed=cfg.seed, epoch=epoch)
    return length_grouped_batches(data, indices, cfg.batch_size, seed=cfg.seed, epoch=epoch)


def batches_per_epoch(cfg: RunConfig, data: TokenizedData, indices: list[int]) -> int:
    if uses_balanced(cfg, data, indices):
        groups = _by_objective(data, indices)
        per = per_objective(cfg.batch_size, len(groups))
        return max(math.ceil(len(pairs) / per) for pairs in groups.values())
    return math.ceil(len(indices) / cfg.batch_size)
