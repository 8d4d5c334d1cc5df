"""store.rounds: rounds numbered in order, samples and pairs stored once however often a step repeats, automatic
labels never duplicated, per-round statistics (label counts, human/automatic agreement, gap) from the file."""

from __future__ import annotations

import pytest

from workbench.core.errors import ProjectError
from workbench.core.rounds import RoundSettings
from workbench.store.annotators import get_or_create_annotator
from workbench.store.labels import add_label
from workbench.store.objectives import add_objective
from workbench.store.pairs import add_prompt
from workbench.store.rounds import (add_auto_label, add_round_pair, add_samples, create_round, get_round,
                                    list_rounds, mark_done, round_pair_ids, round_stats, unlabelled_pairs)

ROWS = [{"prompt_id": 1, "source": "policy", "texts": ["short", "a longer one", "short"], "seed": 5},
        {"prompt_id": 2, "source": "policy", "texts": ["x", "x y z"], "seed": 6}]


def test_rounds_samples_pairs_and_stats(project, tmp_path):
    with project.session() as s:
        obj = add_objective(s, "brevity", "", "minimize")
        p1, p2 = add_prompt(s, "q1"), add_prompt(s, "q2")
        settings = RoundSettings(labeller="mix", label_scorers={"brevity": "b"})
        r1 = create_round(s, settings, {"model": "m"}, [p1.id, p2.id], [], tmp_path / "rounds")
        r2 = create_round(s, settings, {"model": "m"}, [p2.id], [p1.id], tmp_path / "rounds")
        assert [r.number for r in list_rounds(s)] == [1, 2]
        assert (tmp_path / "rounds" / "round-2").is_dir() and get_round(s, 2).eval_prompt_ids == [p1.id]
        samples = add_samples(s, 1, ROWS, "m")
        assert add_samples(s, 1, ROWS, "m") == samples  # a repeated step stores nothing new
        assert [src for src, _, _ in samples[1]] == ["policy", "policy"]  # the duplicate "short" is one response
        (_, a1, _), (_, b1, _) = samples[1]
        (_, a2, _), (_, b2, _) = samples[2]
        pair1 = add_round_pair(s, r1.id, 1, p1.id, a1, b1, {"brevity": 2.0}, {"brevity": "a"})
        pair2 = add_round_pair(s, r1.id, 1, p2.id, a2, b2, {"brevity": 4.0}, {"brevity": "a"})
        assert add_round_pair(s, r2.id, 2, p1.id, a1, b1, {"brevity": 9.0}, {"brevity": "b"}) == pair1
        assert round_pair_ids(s, r1.id) == [pair1, pair2] and round_pair_ids(s, r2.id) == []  # keeps round 1
        assert add_auto_label(s, pair1, "brevity", "auto:scorer:b", "a")
        assert not add_auto_label(s, pair1, "brevity", "auto:scorer:b", "a")
        assert unlabelled_pairs(s, r1.id, ["brevity"]) == 1
        alice = get_or_create_annotator(s, "alice").id
        add_label(s, pair1, obj.id, alice, "b")  # disagrees with the scorer
        add_label(s, pair2, obj.id, alice, "a")
        assert unlabelled_pairs(s, r1.id, ["brevity"]) == 0
        mark_done(s, r1.id, "generate")
        stats = round_stats(s, get_round(s, 1))
    assert (stats.pairs, stats.human_labels, stats.auto_labels) == (2, 2, 1)
    assert stats.agreement == 0.0  # the one pair both labelled: alice b, scorer a
    assert stats.gap == {"brevity": pytest.approx(3.0)} and stats.done == {"generate": True}
    assert stats.run_id is None and stats.values == {}


def test_unknown_round_is_a_readable_error(project):
    with pytest.raises(ProjectError, match="round 4 does not exist"), project.session() as s:
        get_round(s, 4)
