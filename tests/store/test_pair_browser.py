"""The pair browser's query (issue #13): filters by objective, label state, annotator, disagreement and text."""

from __future__ import annotations

from tests.store.helpers import make_pairs
from workbench.store.annotators import get_or_create_annotator
from workbench.store.db import Project
from workbench.store.labels import add_label
from workbench.store.objectives import add_objective
from workbench.store.pair_browser import browse_pairs


def test_filters(project: Project) -> None:
    with project.session() as s:
        p = make_pairs(s, 5)
        o1, o2 = add_objective(s, "o1").id, add_objective(s, "o2").id
        a, b = get_or_create_annotator(s, "a").id, get_or_create_annotator(s, "b").id
        add_label(s, p[0], o1, a, "a")
        add_label(s, p[0], o1, b, "b")  # disputed on o1
        add_label(s, p[1], o1, a, "a")
        add_label(s, p[1], o1, b, "a")  # agreed
        add_label(s, p[2], o2, a, "tie")
        add_label(s, p[3], o1, a, "skip")  # a skip is no label
        ids = lambda **kw: [r.pair_id for r in browse_pairs(s, **kw)]  # noqa: E731
        assert ids() == p
        assert ids(state="unlabelled") == [p[3], p[4]]
        assert ids(state="labelled") == [p[0], p[1], p[2]]
        assert ids(state="labelled", objective_id=o1) == [p[0], p[1]]
        assert ids(state="unlabelled", objective_id=o1) == [p[2], p[3], p[4]]
        assert ids(state="disputed") == [p[0]]
        assert ids(annotator_id=b) == [p[0], p[1]]
        assert ids(search="answer b3") == [p[3]]  # a response's text, any case
        assert ids(search="PROMPT 4") == [p[4]]
        assert ids(search=f"#{p[2]}") == [p[2]]
        (row,) = browse_pairs(s, search=f"#{p[0]}", objective_id=o1)
        assert row.counts == {"a": 1, "b": 1} and row.annotators == 2 and row.disputed
