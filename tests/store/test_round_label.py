"""store.round_label: a round's Label step asks for exactly the round's unlabelled pairs, in active order (the parent
run's margins, then the scorers' gap, then generation order), counts k of m pairs labelled with the same rule the
CLI's label step uses, and closes the step only when every pair is labelled; the queue walks only those pairs."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.core.rounds import RoundSettings
from workbench.store.annotators import get_or_create_annotator
from workbench.store.labels import add_label, retract_label
from workbench.store.objectives import add_objective
from workbench.store.pairs import add_pair, add_prompt, add_response
from workbench.store.queue import next_pair, open_count
from workbench.store.round_label import (MARGINS_FILE, close_labelling, label_progress, round_label_queue,
                                         round_objective_ids)
from workbench.store.rounds import (add_round_pair, attach_run, create_round, get_round, mark_done, round_stats,
                                    unlabelled_pairs)
from workbench.store.runs import create_run


def build_two_rounds(s, tmp_path: Path, *, objectives=("helpful", "short"), gaps=None) -> dict:
    """Round 1 (complete, its run wrote margins) and round 2 (human) with 5 pairs, plus 3 pairs of no round.
    The parent run's margins cover round-2 pairs 1, 2 and 4 (|m| 0.9, 0.1, 0.5); pair 3 has a scorer gap."""
    ids = {o: add_objective(s, o).id for o in objectives}
    prompts = [add_prompt(s, f"q{i}") for i in range(8)]
    r1 = create_round(s, RoundSettings(labeller="human"), {"objectives": list(objectives)}, [prompts[0].id], [],
                      tmp_path / "rounds")
    run_dir = tmp_path / "runs" / "run-1"
    run_dir.mkdir(parents=True)
    run = create_run(s, "round 1", {}, str(run_dir))
    attach_run(s, r1.id, run.id)
    for step in ("generate", "label", "train", "evaluate"):
        mark_done(s, r1.id, step)
    other = []
    for p in prompts[5:]:
        a, b = add_response(s, p.id, f"{p.text} a"), add_response(s, p.id, f"{p.text} b")
        other.append(add_pair(s, p.id, a.id, b.id).id)
    r2 = create_round(s, RoundSettings(labeller="human"), {"objectives": list(objectives)},
                      [p.id for p in prompts[:5]], [], tmp_path / "rounds")
    pairs = []
    for i, p in enumerate(prompts[:5]):
        a, b = add_response(s, p.id, f"{p.text} one"), add_response(s, p.id, f"{p.text} two")
        gap = (gaps or {}).get(i, {})
        pairs.append(add_round_pair(s, r2.id, 2, p.id, a.id, b.id, gap, {o: "a" for o in gap}))
    margins = {pairs[1]: 0.9, pairs[2]: -0.1, pairs[4]: 0.5, other[0]: 0.0}  # a run scores every open pair
    (run_dir / MARGINS_FILE).write_text(json.dumps({str(k): v for k, v in margins.items()}), encoding="utf-8")
    alice = get_or_create_annotator(s, "alice").id
    return {"objectives": ids, "pairs": pairs, "other": other, "alice": alice, "run": run.id, "round": r2.id}


def test_round_queue_is_the_rounds_unlabelled_pairs_in_active_order(project, tmp_path) -> None:
    with project.session() as s:
        d = build_two_rounds(s, tmp_path, gaps={3: {"short": 0.3}})
        p = d["pairs"]
        obj = list(d["objectives"].values())
        add_label(s, p[0], obj[0], d["alice"], "a")  # half a label vector: still owed
        q = round_label_queue(s, 2)
        assert q.pair_ids == [p[2], p[4], p[1], p[3], p[0]]  # margins 0.1, 0.5, 0.9; gap 0.3; generation order
        assert (q.labelled, q.total, q.margins, q.gaps, q.parent_run_id) == (0, 5, 3, 1, d["run"])
        assert q.objective_ids == obj
        assert q.order_text() == ("3 by run 1's margins (smallest first); 1 by the scorers' gap (smallest first); "
                                  "1 in generation order (run 1 has no margins for them)")
        # the queue walks exactly these pairs, in this order, finishing the started label vector first
        seen = []
        while (pair := next_pair(s, d["alice"], objective_ids=obj, among=q.pair_ids)) is not None:
            seen.append(pair.id)
            for oid in obj:
                if not (pair.id == p[0] and oid == obj[0]):
                    add_label(s, pair.id, oid, d["alice"], "b")
            assert label_progress(s, d["round"], obj) == (len(seen), 5)
            assert close_labelling(s, 2) == (len(seen) == 5)
        assert seen == [p[0], p[2], p[4], p[1], p[3]]
        assert get_round(s, 2).done.get("label") is True
        assert round_stats(s, get_round(s, 2)).labelled == 5
        assert open_count(s, d["alice"], objective_ids=obj) == 3  # the pairs of no round are still open


def test_round_1_and_partial_labels_and_undo(project, tmp_path) -> None:
    with project.session() as s:
        d = build_two_rounds(s, tmp_path, objectives=("helpful",))
        r1 = get_round(s, 1)
        assert round_label_queue(s, 1).order_text() == "nothing left to label"
        assert round_label_queue(s, 1).parent_run_id is None
        p, oid = d["pairs"], d["objectives"]["helpful"]
        bob = get_or_create_annotator(s, "bob").id
        skip = add_label(s, p[0], oid, bob, "skip")  # a skip answers the pair for the round
        auto = get_or_create_annotator(s, "auto:scorer:x").id
        add_label(s, p[1], oid, auto, "a")  # so does the automatic labeller
        q = round_label_queue(s, 2)
        assert (q.labelled, q.total, q.pair_ids) == (2, 5, [p[2], p[4], p[3]])
        assert unlabelled_pairs(s, d["round"], ["helpful"]) == 3  # the CLI's count: the same rule
        stats = round_stats(s, get_round(s, 2))
        assert (stats.labelled, stats.human_labels, stats.auto_labels) == (2, 0, 1)  # a skip answers, is no label
        retract_label(s, skip.id)  # undo brings the pair back
        assert round_label_queue(s, 2).labelled == 1
        assert round_objective_ids(s, d["round"]) == [oid]
        assert not close_labelling(s, 2) and not get_round(s, 2).done.get("label")
        assert r1.number == 1


def test_round_without_objectives_in_its_config_uses_every_objective(project, tmp_path) -> None:
    with project.session() as s:
        a, b = add_objective(s, "x").id, add_objective(s, "y").id
        prompt = add_prompt(s, "q")
        rnd = create_round(s, RoundSettings(labeller="human"), {}, [prompt.id], [], tmp_path / "rounds")
        ra, rb = add_response(s, prompt.id, "1"), add_response(s, prompt.id, "2")
        add_round_pair(s, rnd.id, 1, prompt.id, ra.id, rb.id, {}, {})
        assert round_objective_ids(s, rnd.id) == [a, b]
        assert round_label_queue(s, 1).order_text() == ("1 in generation order (round 1 was sampled by the base "
                                                        "model, which has no run)")
