"""next_pair: never a pair the annotator fully labelled; overlap, objectives, exclude and every order."""

from __future__ import annotations

import pytest

from tests.store.helpers import make_pairs
from workbench.core.errors import ProjectError
from workbench.store.annotators import get_or_create_annotator
from workbench.store.db import Project
from workbench.store.labels import add_label
from workbench.store.objectives import add_objective
from workbench.store.queue import next_pair


def test_drains_every_pair_exactly_once(project: Project) -> None:
    with project.session() as s:
        ids = make_pairs(s, 30)
        obj = add_objective(s, "o").id
        me = get_or_create_annotator(s, "me").id
        seen = []
        while (pair := next_pair(s, me, seed=3)) is not None:
            seen.append(pair.id)
            add_label(s, pair.id, obj, me, "a")
        assert sorted(seen) == ids
        assert seen != ids  # random order, not insertion order


def test_in_order_exclude_and_determinism(project: Project) -> None:
    with project.session() as s:
        ids = make_pairs(s, 5)
        add_objective(s, "o")
        me = get_or_create_annotator(s, "me").id
        assert next_pair(s, me, order="in_order").id == ids[0]
        assert next_pair(s, me, order="in_order", exclude={ids[0], ids[1]}).id == ids[2]
        assert next_pair(s, me, seed=7).id == next_pair(s, me, seed=7).id
        assert next_pair(s, me, exclude=set(ids)) is None


def test_overlap_and_objectives(project: Project) -> None:
    with project.session() as s:
        (p1, p2) = make_pairs(s, 2)
        o1, o2 = add_objective(s, "o1").id, add_objective(s, "o2").id
        alice, bob = get_or_create_annotator(s, "alice").id, get_or_create_annotator(s, "bob").id
        add_label(s, p1, o1, alice, "a")
        # alice started p1 (o1 done, o2 not): she finishes it first, whatever the order
        assert next_pair(s, alice, order="in_order", exclude=()).id == p1
        assert next_pair(s, alice, objective_ids=[o1], order="in_order").id == p2
        # overlap is per objective: with overlap 1, bob is not offered p1 for o1 (alice labelled it) but is for o2
        assert next_pair(s, bob, objective_ids=[o1], order="in_order").id == p2
        assert next_pair(s, bob, objective_ids=[o2], order="in_order").id == p1
        assert next_pair(s, bob, objective_ids=[o1], order="in_order", overlap=2).id == p1
        add_label(s, p1, o2, alice, "b")
        assert next_pair(s, bob, order="in_order").id == p2  # p1 is full for both objectives now
        add_label(s, p2, o1, bob, "a")
        add_label(s, p2, o2, bob, "skip")  # a skip counts as done for him, but fills no overlap
        assert next_pair(s, alice, objective_ids=[o1], overlap=1) is None  # alice finished p1, bob labelled p2 ...
        assert next_pair(s, alice, overlap=1).id == p2  # ... for o1, but only skipped it for o2
        assert next_pair(s, bob, overlap=1) is None
        assert next_pair(s, bob, overlap=2).id == p1
        assert next_pair(s, alice, overlap=2).id == p2
        carol = get_or_create_annotator(s, "carol").id
        assert next_pair(s, carol, objective_ids=[o1], overlap=1) is None
        assert next_pair(s, carol, overlap=2) is not None
        for pid, who in ((p1, bob), (p2, alice)):
            add_label(s, pid, o1, who, "a")
            add_label(s, pid, o2, who, "a")
        assert next_pair(s, carol, objective_ids=[o1], overlap=2) is None  # both pairs have 2 annotators now
        assert next_pair(s, carol, overlap=3).id in (p1, p2)


def test_imported_labels_do_not_fill_the_overlap(project: Project) -> None:
    """Issue #13 bug 3: right after an import every pair is labellable, also for the objective the import labelled
    and for objectives with no labels at all."""
    from workbench.core.entities import PreferenceRecord
    from workbench.store.imports import import_records

    with project.session() as s:
        records = [PreferenceRecord(prompt=f"q{i}", chosen=f"good {i}", rejected=f"bad {i}", line=i + 1)
                   for i in range(3)]
        import_records(s, records, default_objective="helpful", source="file.jsonl", annotator="my-import")
        empty = add_objective(s, "concise").id
        helpful = next(o for o in _objectives(s) if o != empty)
        me = get_or_create_annotator(s, "me").id
        seen = []
        while (pair := next_pair(s, me, objective_ids=[helpful], overlap=1, seed=1)) is not None:
            seen.append(pair.id)
            add_label(s, pair.id, helpful, me, "a")
        assert len(seen) == 3  # every imported pair, once
        assert next_pair(s, me, objective_ids=[empty], overlap=1) is not None
        other = get_or_create_annotator(s, "other").id
        assert next_pair(s, other, objective_ids=[helpful], overlap=1) is None  # "me" (a human) filled overlap 1
        assert next_pair(s, other, objective_ids=[helpful], overlap=2) is not None


def _objectives(s) -> list[int]:
    from workbench.store.objectives import list_objectives

    return [o.id for o in list_objectives(s)]


def test_coverage_and_active_orders(project: Project) -> None:
    with project.session() as s:
        ids = make_pairs(s, 4)
        obj = add_objective(s, "o").id
        others = [get_or_create_annotator(s, n).id for n in ("x", "y")]
        me = get_or_create_annotator(s, "me").id
        for pid in ids[:3]:
            add_label(s, pid, obj, others[0], "a")
        add_label(s, ids[0], obj, others[1], "a")
        # coverage: the one pair nobody labelled comes first, then the once-labelled ones
        assert next_pair(s, me, overlap=3, order="coverage").id == ids[3]
        assert next_pair(s, me, overlap=3, order="coverage", exclude={ids[3]}).id in ids[1:3]
        margins = {ids[0]: 0.01, ids[1]: -0.05, ids[2]: 2.0, ids[3]: 0.5}
        assert next_pair(s, me, overlap=3, order="active", margins=margins).id == ids[0]
        assert next_pair(s, me, overlap=2, order="active", margins=margins).id == ids[1]  # ids[0] has 2 already
        assert next_pair(s, me, overlap=1, order="active", margins=margins).id == ids[3]
        assert next_pair(s, me, overlap=1, order="active", margins={}).id == ids[3]
        with pytest.raises(ProjectError, match="unknown queue order"):
            next_pair(s, me, order="alphabetical")


def test_no_objectives_means_nothing_to_label(project: Project) -> None:
    with project.session() as s:
        make_pairs(s, 2)
        assert next_pair(s, get_or_create_annotator(s, "me").id) is None
