"""project_stats: sizes, per-objective coverage, per-annotator counts and pace."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from tests.store.helpers import make_pairs
from workbench.store.annotators import get_or_create_annotator
from workbench.store.clock import utcnow
from workbench.store.db import Project
from workbench.store.labels import add_label
from workbench.store.objectives import add_objective
from workbench.store.schema import LabelRow
from workbench.store.stats import project_stats


def test_stats_numbers(project: Project) -> None:
    with project.session() as s:
        ids = make_pairs(s, 4)
        o1, o2 = add_objective(s, "o1").id, add_objective(s, "o2").id
        alice, bob = get_or_create_annotator(s, "alice").id, get_or_create_annotator(s, "bob").id
        add_label(s, ids[0], o1, alice, "a")
        add_label(s, ids[0], o1, alice, "b")  # relabel: one active label, two decisions
        add_label(s, ids[1], o1, alice, "skip")
        add_label(s, ids[0], o1, bob, "a")
        old = add_label(s, ids[2], o2, bob, "tie")
        # bob's tie was two hours before his other labels: it is outside his last hour
        s.execute(update(LabelRow).where(LabelRow.id == old.id).values(created_at=utcnow() - timedelta(hours=2)))
        stats = project_stats(s)
    assert (stats.pairs, stats.prompts, stats.responses) == (4, 4, 8)
    o1s, o2s = stats.objectives
    assert (o1s.name, o1s.labelled_pairs, o1s.labels, o1s.coverage) == ("o1", 1, 3, 0.25)
    assert (o2s.name, o2s.labelled_pairs, o2s.labels, o2s.coverage) == ("o2", 1, 1, 0.25)
    a, b = stats.annotators
    assert (a.name, a.labels, a.labels_per_hour) == ("alice", 2, 3.0)
    assert (b.name, b.labels, b.labels_per_hour) == ("bob", 2, 1.0)
    assert a.last_label_at is not None and a.last_label_at.tzinfo is not None


def test_empty_project_stats(project: Project) -> None:
    with project.session() as s:
        add_objective(s, "o")
        stats = project_stats(s)
    assert (stats.pairs, stats.objectives[0].coverage, stats.annotators) == (0, 0.0, ())


def test_step_ratings_are_counted_per_objective_and_annotator(project: Project) -> None:
    """Found in use: a project of imported step labels showed "0 labels on 0 pairs" and nothing else."""
    from workbench.core.steps import Step
    from workbench.store.pairs import add_prompt, add_response
    from workbench.store.step_labels import label_first_error, label_step, store_steps

    with project.session() as s:
        o1, o2 = add_objective(s, "correct").id, add_objective(s, "style").id
        alice, bob = get_or_create_annotator(s, "alice").id, get_or_create_annotator(s, "bob").id
        prompt = add_prompt(s, "2+3*4?")
        responses = []
        for text in ("3*4 = 12\n2 + 12 = 14", "3*4 = 12\n2 + 12 = 15\nso 15"):
            r = add_response(s, prompt.id, text)
            lines = text.split("\n")
            spans = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
            store_steps(s, r.id, "line", "", [Step(i, x, spans[i], spans[i] + len(x)) for i, x in enumerate(lines)])
            responses.append(r.id)
        label_first_error(s, responses[1], 1, o1, alice)  # good, bad, (after it unrated): 2 ratings
        label_step(s, responses[0], 0, o1, bob, 1)
        label_step(s, responses[0], 1, o1, bob, 1)
        label_step(s, responses[0], 1, o1, bob, None)  # cleared: no rating any more
        label_step(s, responses[0], 0, o2, bob, 0)  # neutral is a rating
        stats = project_stats(s)
    correct, style = stats.objectives
    assert (correct.step_labels, correct.rated_responses, correct.labels) == (3, 2, 0)
    assert (style.step_labels, style.rated_responses) == (1, 1)
    assert [(a.name, a.labels, a.step_labels) for a in stats.annotators] == [("alice", 0, 2), ("bob", 0, 2)]
