"""Labels: relabelling supersedes (history kept), undo re-activates the replaced label, validation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.store.helpers import make_pairs
from workbench.core.errors import ProjectError
from workbench.store.annotators import get_or_create_annotator, list_annotators
from workbench.store.db import Project
from workbench.store.labels import active_labels, add_label, label_history, retract_label
from workbench.store.objectives import add_objective
from workbench.store.schema import PairRow


def test_relabel_undo_history(project: Project) -> None:
    with project.session() as s:
        (pid,) = make_pairs(s, 1)
        obj = add_objective(s, "helpful").id
        alice = get_or_create_annotator(s, "alice").id
        first = add_label(s, pid, obj, alice, "a", strength=1)
        second = add_label(s, pid, obj, alice, "b", strength=3, note="changed my mind", shown_swapped=True)
        assert [(lab.choice, lab.superseded) for lab in label_history(s, pid)] == [("a", True), ("b", False)]
        assert [lab.id for lab in active_labels(s)] == [second.id]
        assert second.shown_swapped and second.note == "changed my mind" and second.created_at.tzinfo is not None
        restored = retract_label(s, second.id)
        assert restored is not None and restored.id == first.id and not restored.superseded
        assert [(lab.choice, lab.strength) for lab in active_labels(s)] == [("a", 1)]
        assert retract_label(s, first.id) is None
        assert active_labels(s) == []
        assert len(label_history(s, pid)) == 2  # undo never deletes
        assert s.scalar(select(PairRow.labelled_by).where(PairRow.id == pid)) == 0
        with pytest.raises(ProjectError, match="already replaced or undone"):
            retract_label(s, second.id)


def test_labelled_by_counts_distinct_annotators(project: Project) -> None:
    with project.session() as s:
        (pid,) = make_pairs(s, 1)
        o1, o2 = add_objective(s, "o1").id, add_objective(s, "o2").id
        alice, bob = get_or_create_annotator(s, "alice").id, get_or_create_annotator(s, "bob").id
        add_label(s, pid, o1, alice, "a")
        add_label(s, pid, o2, alice, "tie")
        bob_label = add_label(s, pid, o1, bob, "skip")
        assert s.scalar(select(PairRow.labelled_by).where(PairRow.id == pid)) == 2
        retract_label(s, bob_label.id)
        assert s.scalar(select(PairRow.labelled_by).where(PairRow.id == pid)) == 1
        assert [a.name for a in list_annotators(s)] == ["alice", "bob"]
        assert [lab.choice for lab in active_labels(s, objective_id=o2, annotator_id=alice)] == ["tie"]


def test_label_validation(project: Project) -> None:
    with project.session() as s:
        (pid,) = make_pairs(s, 1)
        obj = add_objective(s, "o").id
        ann = get_or_create_annotator(s, "a").id
        with pytest.raises(ProjectError, match="one of a, b, tie, skip"):
            add_label(s, pid, obj, ann, "c")
        with pytest.raises(ProjectError, match="strength"):
            add_label(s, pid, obj, ann, "a", strength=4)
        with pytest.raises(ProjectError, match="does not exist"):
            add_label(s, 999, obj, ann, "a")
