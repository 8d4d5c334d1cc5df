"""Deleting an objective (issue #13): its labels go with it, or move to another objective without losing any."""

from __future__ import annotations

import pytest

from tests.store.helpers import make_pairs
from workbench.core.errors import ProjectError
from workbench.store.annotators import get_or_create_annotator
from workbench.store.db import Project
from workbench.store.labels import active_labels, add_label, label_history
from workbench.store.objectives import add_objective, delete_objective, list_objectives, objective_label_count
from workbench.store.schema import LabelRow, PairRow


def setup(s):
    p = make_pairs(s, 3)
    old, keep = add_objective(s, "old").id, add_objective(s, "keep").id
    a, b = get_or_create_annotator(s, "a").id, get_or_create_annotator(s, "b").id
    add_label(s, p[0], old, a, "a")
    add_label(s, p[0], old, a, "b")  # relabelled: one active, one history
    add_label(s, p[1], old, b, "a")
    add_label(s, p[0], keep, a, "a")  # a already labelled p0 for "keep"
    return p, old, keep, a, b


def test_delete_with_labels(project: Project) -> None:
    with project.session() as s:
        p, old, keep, a, b = setup(s)
        assert objective_label_count(s, old) == 2
        assert delete_objective(s, old) == 3  # two active + one history
        assert [o.name for o in list_objectives(s)] == ["keep"]
        assert s.query(LabelRow).count() == 1
        assert s.get(PairRow, p[1]).labelled_by == 0 and s.get(PairRow, p[0]).labelled_by == 1


def test_move_labels_keeps_every_row(project: Project) -> None:
    with project.session() as s:
        p, old, keep, a, b = setup(s)
        delete_objective(s, old, move_labels_to=keep)
        assert [o.name for o in list_objectives(s)] == ["keep"]
        active = {(lab.pair_id, lab.annotator_id): lab.choice for lab in active_labels(s, objective_id=keep)}
        assert active == {(p[0], a): "a", (p[1], b): "a"}  # a's own "keep" label wins on p0
        assert len(label_history(s, p[0])) == 3  # nothing lost: the moved ones are history
        assert s.get(PairRow, p[1]).labelled_by == 1
        with pytest.raises(ProjectError, match="another existing objective"):
            delete_objective(s, keep, move_labels_to=keep)
