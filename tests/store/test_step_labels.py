"""Step labels in the store (issue #17): split, rate, first error, undo with history, re-split rules, the queue,
import_stepwise (all or nothing) and export_stepwise, the 0004 -> 0005 upgrade."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from workbench.core.errors import InputError, ProjectError
from workbench.core.steps import BAD, GOOD, NEUTRAL, StepSplit, StepwiseRecord
from workbench.store.annotators import get_or_create_annotator
from workbench.store.db import create_project, current_revision, open_project
from workbench.store.labels import label_history
from workbench.store.objectives import add_objective
from workbench.store.pairs import add_prompt, add_response
from workbench.store.step_labels import (active_step_labels, get_steps, label_first_error, label_step,
                                         reference_answer, retract_step_label, retract_step_labels, set_split,
                                         step_label_history)
from workbench.store.step_queue import next_response, open_response_count
from workbench.store.step_records import export_stepwise, import_stepwise

SOLUTION = "Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 15\nStep 3: The answer is 15"


def _setup(s):
    obj = add_objective(s, "correct")
    alice = get_or_create_annotator(s, "alice")
    p = add_prompt(s, "What is (3 + 4) * 2?")
    r = add_response(s, p.id, SOLUTION)
    return obj.id, alice.id, p.id, r.id


def test_split_label_undo_keeps_history(project) -> None:
    with project.session() as s:
        obj, alice, _, rid = _setup(s)
        steps = set_split(s, rid, StepSplit("line"))
        assert [st.text for st in steps.steps] == SOLUTION.split("\n")
        assert steps.steps[1].start == SOLUTION.index("Step 2") and steps.steps[1].end == SOLUTION.index("\nStep 3")
        first = label_step(s, rid, 0, obj, alice, GOOD)
        bad = label_step(s, rid, 1, obj, alice, NEUTRAL)
        relabel = label_step(s, rid, 1, obj, alice, BAD)  # changes her mind: the neutral becomes history
        assert (first.step_index, first.rating, relabel.rating) == (0, GOOD, BAD)
        assert [(lab.step_index, lab.rating) for lab in active_step_labels(s, annotator_id=alice)] == [(0, 1), (1, -1)]
        restored = retract_step_label(s, relabel.id)  # undo: the neutral is active again
        assert restored is not None and restored.id == bad.id and restored.rating == NEUTRAL
        assert retract_step_label(s, first.id) is None  # undo of a first label: nothing to restore
        assert [(lab.step_index, lab.rating) for lab in active_step_labels(s)] == [(1, 0)]
        history = step_label_history(s, rid)
        assert [(h.step_index, h.rating, h.superseded) for h in history] == [
            (0, 1, True), (1, 0, False), (1, -1, True)]
        with pytest.raises(ProjectError, match="already replaced or undone"):
            retract_step_label(s, relabel.id)
        with pytest.raises(ProjectError, match="no step 4"):
            label_step(s, rid, 3, obj, alice, GOOD)
        with pytest.raises(ProjectError, match=r"\+1 \(good\), 0 \(neutral\) or -1 \(bad\)"):
            label_step(s, rid, 0, obj, alice, 2)


def test_resplit_allowed_until_a_step_is_labelled(project) -> None:
    with project.session() as s:
        obj, alice, _, rid = _setup(s)
        assert len(set_split(s, rid, StepSplit("line")).steps) == 3
        assert len(set_split(s, rid, StepSplit("regex", r"Step 2")).steps) == 2  # nothing labelled: re-split
        lab = label_step(s, rid, 1, obj, alice, BAD)
        assert set_split(s, rid, StepSplit("regex", r"Step 2")).mode == "regex"  # the same split: fine
        with pytest.raises(ProjectError, match=r"already split \(a regular expression.*1 label: its split stays"):
            set_split(s, rid, StepSplit("line"))
        retract_step_label(s, lab.id)  # undone, but history stays: still refused, the label keeps its step
        with pytest.raises(ProjectError, match="1 label"):
            set_split(s, rid, StepSplit("line"))
        assert [st.text for st in get_steps(s, rid).steps] == ["Step 1: 3 + 4 = 7", SOLUTION[SOLUTION.index("Step 2"):]]
        with pytest.raises(ProjectError, match="not valid"):
            set_split(s, add_response(s, 1, "other").id, StepSplit("regex", "("))


def test_first_error_marks_and_one_undo(project) -> None:
    with project.session() as s:
        obj, alice, _, rid = _setup(s)
        set_split(s, rid, StepSplit("line"))
        label_step(s, rid, 0, obj, alice, NEUTRAL)
        label_step(s, rid, 2, obj, alice, GOOD)
        label_step(s, rid, 1, obj, alice, BAD)
        marked = label_first_error(s, rid, 1, obj, alice)  # step 2 was bad, now marked; step 3 good -> cleared
        assert [(w.step_index, w.rating, w.first_error) for w in marked] == [(1, -1, True), (2, None, False)]
        written = label_first_error(s, rid, 2, obj, alice)  # no: the first error is at step 3
        # step 1 neutral stays, step 2 bad -> good (the error comes later), step 3 -> bad (marked)
        assert [(w.step_index, w.rating, w.first_error) for w in written] == [(1, 1, False), (2, -1, True)]
        retract_step_labels(s, [w.id for w in written])  # one key, one undo
        written = label_first_error(s, rid, 0, obj, alice)
        # step 1 -> bad (marked), step 2 (bad, marked) -> cleared, step 3 is already unrated
        assert [(w.step_index, w.rating, w.first_error) for w in written] == [(0, -1, True), (1, None, False)]
        assert label_first_error(s, rid, 0, obj, alice) == []  # pressed again: nothing changes
        active = active_step_labels(s, rated_only=False)
        assert sorted((a.step_index, a.rating) for a in active) == [(0, -1), (1, None), (2, None)]
        retract_step_labels(s, [w.id for w in written])
        assert sorted((a.step_index, a.rating, a.first_error) for a in active_step_labels(s)) == [
            (0, 0, False), (1, -1, True)]
        no_error = label_first_error(s, rid, -1, obj, alice)  # neutral stays, the others become good
        assert [(w.step_index, w.rating) for w in no_error] == [(1, 1), (2, 1)]
        with pytest.raises(ProjectError, match="step 4 does not exist"):
            label_first_error(s, rid, 3, obj, alice)


def test_label_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    project = create_project(path)
    with project.session() as s:
        obj, alice, _, rid = _setup(s)
        set_split(s, rid, StepSplit("step_k"))
        label_step(s, rid, 2, obj, alice, BAD)
    project.close()
    project = open_project(path)
    try:
        with project.session() as s:
            assert [(a.response_id, a.step_index, a.rating, a.annotator_id) for a in active_step_labels(s)] == [
                (rid, 2, -1, alice)]
            assert get_steps(s, rid).mode == "step_k"
    finally:
        project.close()


def test_queue_overlap_started_first_and_imports_do_not_count(project) -> None:
    with project.session() as s:
        obj, alice, pid, r1 = _setup(s)
        bob = get_or_create_annotator(s, "bob").id
        r2 = add_response(s, pid, "Step 1: 7 * 2 = 14\nStep 2: The answer is 14").id
        r3 = add_response(s, pid, "14").id
        set_split(s, r2, StepSplit("line"))
        # split responses first, then the others, in id order
        assert next_response(s, alice, obj) == r2
        assert open_response_count(s, alice, obj) == 3
        set_split(s, r1, StepSplit("line"))
        label_step(s, r1, 0, obj, alice, GOOD)  # started, not finished: comes first
        assert next_response(s, alice, obj) == r1
        assert next_response(s, bob, obj) == r2  # alice's labels fill r1's overlap of 1 for bob
        assert next_response(s, bob, obj, overlap=2) == r1
        label_first_error(s, r1, 1, obj, alice)  # finished by the first-error mark
        assert next_response(s, alice, obj) == r2
        assert next_response(s, alice, obj, exclude=[r2]) == r3
        import_stepwise(s, [StepwiseRecord("What is (3 + 4) * 2?", ("Step 1: 7 * 2 = 14", "Step 2: The answer is 14"),
                                           (GOOD, GOOD))], "correct", "prm800k")
        assert next_response(s, alice, obj) == r2  # an imported label fills no overlap
        assert open_response_count(s, alice, obj) == 2
        label_step(s, r2, 0, obj, alice, GOOD)
        label_step(s, r2, 1, obj, alice, GOOD)  # every step rated: finished
        assert next_response(s, alice, obj) == r3
        assert next_response(s, alice, obj, order="random", seed=3) == r3
        with pytest.raises(ProjectError, match="unknown queue order"):
            next_response(s, alice, obj, order="active")


RECORDS = [
    StepwiseRecord("What is 2 + 3 * 4?", ("3 * 4 = 12", "2 + 12 = 14", "The answer is 14"), (GOOD, GOOD, GOOD),
                   reference_answer="14", source="synthetic", meta={"labeler": "x"}),
    StepwiseRecord("What is 2 + 3 * 4?", ("2 + 3 = 5", "5 * 4 = 20", "The answer is 20"), (BAD, None, None),
                   reference_answer="14"),
    StepwiseRecord("Sum 1..3?", ("1 + 2 = 3\nthen", "3 + 3 = 6"), (NEUTRAL, GOOD)),
]


def test_import_export_round_trip(project) -> None:
    with project.session() as s:
        report = import_stepwise(s, RECORDS, "correct", "prm800k", source="file.jsonl")
        assert (report.records, report.responses_added, report.steps_added, report.labels_added,
                report.duplicates, report.objective_created) == (3, 3, 8, 6, (), True)
        out = export_stepwise(s, "correct")
        assert [(r.prompt, r.steps, r.ratings, r.reference_answer) for r in out] == [
            (r.prompt, r.steps, r.ratings, r.reference_answer) for r in RECORDS]
        assert out[0].meta == {"labeler": "x"} and out[0].source == "file.jsonl"
        modes = s.execute(text("SELECT mode FROM step_split ORDER BY id")).scalars().all()
        assert modes == ["line", "line", "paragraph"]
        assert reference_answer(s, 1) == "14"
        again = import_stepwise(s, RECORDS, "correct", "prm800k")
        assert (again.responses_added, again.labels_added, again.duplicates) == (0, 0, (1, 2, 3))
        # a human relabel wins over the imported rating on export; the import annotator's label stays
        alice = get_or_create_annotator(s, "alice").id
        label_step(s, 2, 0, 1, alice, GOOD)
        assert export_stepwise(s, 1)[1].ratings == (GOOD, None, None)
        assert export_stepwise(s, "correct", annotator_id=alice)[0].ratings == (GOOD, None, None)
        with pytest.raises(ProjectError, match="no objective named 'nope'"):
            export_stepwise(s, "nope")


def test_import_is_all_or_nothing(project) -> None:
    bad = [*RECORDS[:2], StepwiseRecord("Sum?", ("1 + 2 = 3", "  "), (GOOD, GOOD))]
    with pytest.raises(InputError, match=r"record 3: step 2 is empty; nothing was imported") as err:
        with project.session() as s:
            import_stepwise(s, bad, "correct", "prm800k")
    assert err.value.line == 3
    with project.session() as s:
        assert s.execute(text("SELECT count(*) FROM prompt")).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM objective")).scalar() == 0
    # a conflict found while writing (the response is labelled with another split) rolls back the savepoint
    with project.session() as s:
        obj = add_objective(s, "correct").id
        alice = get_or_create_annotator(s, "alice").id
        p = add_prompt(s, "Sum 1..3?")
        r = add_response(s, p.id, "1 + 2 = 3\nthen\n\n3 + 3 = 6")
        set_split(s, r.id, StepSplit("line"))
        label_step(s, r.id, 0, obj, alice, GOOD)
    with project.session() as s:
        with pytest.raises(InputError, match=r"record 3: response \d+ is already split.*nothing was imported"):
            import_stepwise(s, RECORDS, "correct", "prm800k")
        assert s.execute(text("SELECT count(*) FROM prompt")).scalar() == 1
        assert s.execute(text("SELECT count(*) FROM step_label")).scalar() == 1


def test_v0004_fixture_upgrades_to_step_labels(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    shutil.copy(Path(__file__).parent / "fixtures" / "project_v0004.sqlite", path)
    project = open_project(path)
    try:
        assert current_revision(project.engine) == "0005"
        with project.session() as s:
            assert [(h.choice, h.strength) for h in label_history(s, 1)] == [("b", 1), ("a", 3)]
            assert s.execute(text("SELECT round_id FROM pair WHERE id = 1")).scalar() == 1
            assert s.execute(text("SELECT count(*) FROM step_label")).scalar() == 0
            r = add_response(s, 1, "a\nb")
            set_split(s, r.id, StepSplit("line"))
            assert label_step(s, r.id, 1, 1, 1, BAD).rating == BAD
    finally:
        project.close()


def test_deleting_an_objective_moves_its_step_labels(project) -> None:
    from workbench.store.objectives import delete_objective, objective_label_count

    with project.session() as s:
        obj, alice, _, rid = _setup(s)
        target = add_objective(s, "right").id
        set_split(s, rid, StepSplit("line"))
        label_step(s, rid, 0, obj, alice, GOOD)
        label_step(s, rid, 1, obj, alice, BAD)
        label_step(s, rid, 1, target, alice, NEUTRAL)  # her own label there wins; the moved one becomes history
        assert objective_label_count(s, obj) == 2
        delete_objective(s, obj, move_labels_to=target)
        assert sorted((a.step_index, a.rating) for a in active_step_labels(s, objective_id=target)) == [(0, 1), (1, 0)]
        assert len(step_label_history(s, rid)) == 3


def test_import_relabels_within_and_across_files(project) -> None:
    first = StepwiseRecord("1 + 1?", ("1 + 1 = 2", "The answer is 2"), (GOOD, NEUTRAL))
    again = StepwiseRecord("1 + 1?", ("1 + 1 = 2", "The answer is 2"), (GOOD, GOOD))  # same solution, relabelled
    with project.session() as s:
        report = import_stepwise(s, [first, again], "correct", "prm800k")
        assert (report.responses_added, report.steps_added, report.labels_added, report.duplicates) == (1, 2, 3, ())
        assert [(h.step_index, h.rating, h.superseded) for h in step_label_history(s, 1)] == [
            (0, 1, False), (1, 0, True), (1, 1, False)]
        back = import_stepwise(s, [first], "correct", "prm800k")  # the neutral again: supersedes the good
        assert back.labels_added == 1 and export_stepwise(s, "correct")[0].ratings == (GOOD, NEUTRAL)
        assert [h.replaces_id for h in s.execute(text("SELECT replaces_id FROM step_label ORDER BY id"))] == [
            None, None, 2, 3]
    clash = StepwiseRecord("2 + 2?", ("2 + 2 = 4\nso 4",), (GOOD,))
    other = StepwiseRecord("2 + 2?", ("2 + 2 = 4", "so 4"), (GOOD, GOOD))  # the same text, split differently
    with pytest.raises(InputError, match="record 2: an earlier record has the same solution split into other"):
        with project.session() as s:
            import_stepwise(s, [clash, other], "correct", "prm800k")
    with project.session() as s:
        assert s.execute(text("SELECT count(*) FROM response")).scalar() == 1
