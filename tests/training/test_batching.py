"""Issue 11, item 1: balanced per-objective batches for weighted / MAH-DPO; proportional is today's sampler."""

from __future__ import annotations

from collections import Counter

import pytest

from workbench.core.run_config import RunConfig
from workbench.training.engine.batching import balanced_batches, batches_per_epoch, epoch_batches, uses_balanced
from workbench.training.engine.data import TokenizedData, length_grouped_batches


def make_data(counts: dict[int, int], lengths: dict[int, tuple[int, int]]) -> TokenizedData:
    """counts[k] pairs of objective k; their completion lengths spread over lengths[k] = (lo, hi)."""
    data = TokenizedData(objectives=[f"o{k}" for k in sorted(counts)])
    for k, n in sorted(counts.items()):
        lo, hi = lengths[k]
        for j in range(n):
            size = lo + (j * 7) % (hi - lo + 1)
            data.prompt_ids.append([1, 2, 3])
            data.chosen_ids.append([5] * size)
            data.rejected_ids.append([6] * (size // 2 + 1))
            data.objective.append(k)
            data.pair_id.append(len(data.pair_id))
            data.split.append("train")
    return data


@pytest.mark.parametrize("lengths", [{0: (10, 60), 1: (10, 60)}, {0: (200, 260), 1: (5, 12)}],
                         ids=["9:1", "9:1 and length-skewed"])
def test_every_batch_holds_equal_counts_per_objective(lengths):
    data = make_data({0: 90, 1: 10}, lengths)
    idx = list(range(len(data)))
    cfg = RunConfig(method="mah_dpo", batch_size=4, seed=3)
    batches = epoch_batches(cfg, data, idx, epoch=0)
    assert len(batches) == batches_per_epoch(cfg, data, idx) == 45  # one pass over the 90 pairs, 2 per batch
    for b in batches:
        assert Counter(data.objective[i] for i in b) == {0: 2, 1: 2}
    seen = Counter(i for b in batches for i in b)
    assert all(seen[i] == 1 for i in range(90))  # the large objective: every pair exactly once
    assert sorted(seen[i] for i in range(90, 100)) == [9] * 10  # the small one cycles: 90 slots / 10 pairs
    # the trunk sees the objectives 50:50 (proportional: 90:10, and per batch often one objective only)
    share = Counter(data.objective[i] for b in batches for i in b)
    assert share[0] == share[1]
    # length grouping within an objective: the objective-0 halves of batches are sorted chunks of a mega-chunk
    spread = [max(data.length(i) for i in b if data.objective[i] == 0) - min(data.length(i) for i in b
              if data.objective[i] == 0) for b in batches]
    assert sum(spread) / len(spread) < 0.25 * (lengths[0][1] - lengths[0][0])


def test_deterministic_per_seed_and_epoch_for_exact_resume():
    data = make_data({0: 30, 1: 7, 2: 12}, {0: (5, 40), 1: (5, 40), 2: (5, 40)})
    idx = list(range(len(data)))
    a = balanced_batches(data, idx, 6, seed=1, epoch=2)
    assert a == balanced_batches(data, idx, 6, seed=1, epoch=2)
    assert a != balanced_batches(data, idx, 6, seed=1, epoch=3)
    assert all(Counter(data.objective[i] for i in b) == {0: 2, 1: 2, 2: 2} for b in a)
    assert len(a) == 15  # 30 pairs / 2 per batch


def test_proportional_and_single_objective_methods_keep_todays_batches():
    data = make_data({0: 90, 1: 10}, {0: (10, 60), 1: (10, 60)})
    idx = list(range(len(data)))
    today = length_grouped_batches(data, idx, 4, seed=3, epoch=1)
    for cfg in (RunConfig(method="mah_dpo", objective_sampling="proportional", batch_size=4, seed=3),
                RunConfig(method="dpo", batch_size=4, seed=3), RunConfig(method="modpo", batch_size=4, seed=3)):
        assert not uses_balanced(cfg, data, idx)
        assert epoch_batches(cfg, data, idx, epoch=1) == today
        assert batches_per_epoch(cfg, data, idx) == 25
    one = make_data({0: 20}, {0: (5, 9)})
    assert not uses_balanced(RunConfig(method="weighted"), one, list(range(20)))  # nothing to balance


def test_config_names_the_choices():
    assert RunConfig().objective_sampling == "balanced"
    assert "objective_sampling must be one of balanced, proportional" in RunConfig(objective_sampling="x").problems()
