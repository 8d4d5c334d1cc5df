"""Exports: majority vote of active decisive labels, strengths, the stable train/eval split, data.jsonl rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.store.helpers import make_pairs
from workbench.core.errors import ProjectError
from workbench.store.annotators import get_or_create_annotator
from workbench.core.entities import PreferenceRecord
from workbench.formats.trl import read as read_trl
from workbench.formats.trl import write_trl
from workbench.store.db import Project
from workbench.store.exports import export_run_data, iter_preferences, split_of
from workbench.store.imports import import_records
from workbench.store.labels import add_label
from workbench.store.objectives import add_objective


def _label_votes(s, votes: dict[int, list[tuple[str, int]]], objective: int) -> None:
    annotators = [get_or_create_annotator(s, f"ann{i}").id for i in range(4)]
    for pid, choices in votes.items():
        for ann, (choice, strength) in zip(annotators, choices, strict=False):
            add_label(s, pid, objective, ann, choice, strength=strength)


def test_majority_vote(project: Project) -> None:
    with project.session() as s:
        p = make_pairs(s, 5)
        obj = add_objective(s, "helpful").id
        _label_votes(s, {
            p[0]: [("a", 3), ("a", 2), ("b", 1)],   # a wins 2:1, winners' mean strength 2.5 -> 2
            p[1]: [("b", 3), ("tie", 2), ("skip", 2)],  # ties/skips do not vote: b wins 1:0
            p[2]: [("a", 2), ("b", 2)],             # even split: left out
            p[3]: [("tie", 1)],                     # no decisive label: left out
            p[4]: [("b", 1), ("b", 2), ("b", 3), ("a", 3)],
        }, obj)
        records = list(iter_preferences(s, "helpful"))
    got = [(r.extra["pair_id"], r.chosen, r.rejected, r.extra["votes_a"], r.extra["votes_b"], r.extra["strength"])
           for r in records]
    assert got == [(p[0], "answer A0", "answer B0", 2, 1, 2), (p[1], "answer B1", "answer A1", 0, 1, 3),
                   (p[4], "answer B4", "answer A4", 1, 3, 2)]
    assert records[0].prompt == "prompt 0" and records[0].objective == "helpful"


def test_relabel_changes_the_export(project: Project) -> None:
    with project.session() as s:
        (pid,) = make_pairs(s, 1)
        obj = add_objective(s, "o").id
        me = get_or_create_annotator(s, "me").id
        add_label(s, pid, obj, me, "a")
        add_label(s, pid, obj, me, "b")  # supersedes: only the active label votes
        assert [r.chosen for r in iter_preferences(s, "o")] == ["answer B0"]
        with pytest.raises(ProjectError, match="no objective named 'nope'"):
            list(iter_preferences(s, "nope"))


def test_imported_extra_columns_survive_a_trl_round_trip(project: Project, tmp_path: Path) -> None:
    """TRL columns like score_chosen go into pair.extra on import and come back out on export; when the majority
    later prefers the imported `rejected`, the per-side columns swap names with it."""
    records = [PreferenceRecord("2+2?", "4", "5", "math", extra={"score_chosen": 9.0, "score_rejected": 2.5,
                                                                   "prompt_id": "q1"}, line=1),
               PreferenceRecord("1+1?", "2", "3", "math", extra={"score_chosen": 8.0, "chosen_model": "big",
                                                                   "rejected_model": "small"}, line=2)]
    with project.session() as s:
        import_records(s, records, default_objective=None, source="trl.jsonl")
        second = next(r.extra["pair_id"] for r in iter_preferences(s, "math") if r.prompt == "1+1?")
        obj = add_objective(s, "other").id
        ann = get_or_create_annotator(s, "me").id
        add_label(s, second, obj, ann, "b")  # b (the imported "3") wins for the other objective
        math_records, other_records = list(iter_preferences(s, "math")), list(iter_preferences(s, "other"))
    assert [(r.chosen, {k: v for k, v in r.extra.items() if k != "pair_id"}) for r in math_records] == [
        ("4", {"score_chosen": 9.0, "score_rejected": 2.5, "prompt_id": "q1", "votes_a": 1, "votes_b": 0,
               "strength": 2}),
        ("2", {"score_chosen": 8.0, "chosen_model": "big", "rejected_model": "small", "votes_a": 1, "votes_b": 0,
               "strength": 2})]
    (swapped,) = other_records
    assert (swapped.chosen, swapped.rejected) == ("3", "2")
    assert swapped.extra == {"score_rejected": 8.0, "rejected_model": "big", "chosen_model": "small",
                             "pair_id": second, "votes_a": 0, "votes_b": 1, "strength": 2}
    out = tmp_path / "math.jsonl"
    write_trl(math_records, out)
    again = read_trl(out)
    assert [(r.prompt, r.chosen, r.rejected, r.extra["score_chosen"]) for r in again] == [
        ("2+2?", "4", "5", 9.0), ("1+1?", "2", "3", 8.0)]
    assert again[0].extra["score_rejected"] == 2.5 and again[0].extra["prompt_id"] == "q1"


def test_split_is_stable_and_near_the_fraction() -> None:
    splits = [split_of(pid, 0, 0.1) for pid in range(10_000)]
    assert 0.08 < splits.count("eval") / len(splits) < 0.12
    assert splits == [split_of(pid, 0, 0.1) for pid in range(10_000)]
    assert splits != [split_of(pid, 1, 0.1) for pid in range(10_000)]
    assert all(split_of(pid, 5, 0.0) == "train" for pid in range(100))


def test_export_run_data(project: Project, tmp_path: Path) -> None:
    with project.session() as s:
        ids = make_pairs(s, 40)
        helpful, harmless = add_objective(s, "helpful").id, add_objective(s, "harmless").id
        me = get_or_create_annotator(s, "me").id
        for pid in ids:
            add_label(s, pid, helpful, me, "a", strength=3)
        for pid in ids[:10]:
            add_label(s, pid, harmless, me, "b", strength=1)
        summary = export_run_data(s, [], tmp_path / "data.jsonl", eval_fraction=0.25, seed=4)
    rows = [json.loads(line) for line in (tmp_path / "data.jsonl").read_text().splitlines()]
    assert summary.rows == len(rows) == 50 and summary.per_objective == {"helpful": 40, "harmless": 10}
    assert summary.eval_rows == sum(r["split"] == "eval" for r in rows) and summary.train_rows == 50 - summary.eval_rows
    assert all(r["split"] == split_of(r["pair_id"], 4, 0.25) for r in rows)
    first = rows[0]
    assert first == {"pair_id": ids[0], "objective": "helpful", "prompt": "prompt 0", "chosen": "answer A0",
                     "rejected": "answer B0", "strength": 3, "split": split_of(ids[0], 4, 0.25)}
    harmless_rows = [r for r in rows if r["objective"] == "harmless"]
    assert {r["chosen"][-1] for r in harmless_rows} == set("0123456789") and all(r["strength"] == 1 for r in
                                                                                harmless_rows)
    assert not (tmp_path / "data.jsonl.tmp").exists()
