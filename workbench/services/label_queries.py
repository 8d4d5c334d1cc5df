"""Store calls of the Label panel, run on the DB thread (the store is imported on first use, off the start-up path)."""

from __future__ import annotations

from workbench.core.entities import Annotator, Objective
from workbench.core.rounds import AUTO_PREFIX, is_automatic


def load_people(s) -> tuple[list[Objective], list[Annotator]]:
    """Objectives and the people who can label (not the annotators that stand for imported files, nor a round's
    automatic labellers)."""
    from workbench.store.annotators import import_annotator_ids, list_annotators
    from workbench.store.objectives import list_objectives

    machines = import_annotator_ids(s)
    return list_objectives(s), [a for a in list_annotators(s) if a.id not in machines and not is_automatic(a.name)]


def add_annotator(s, name: str) -> Annotator:
    from workbench.core.errors import ProjectError
    from workbench.store.annotators import get_or_create_annotator

    if is_automatic(name):  # the labels would count as a machine's in the rounds' statistics
        raise ProjectError(f"a person's name cannot start with {AUTO_PREFIX!r} (it marks automatic labellers): "
                         "choose another name")
    return get_or_create_annotator(s, name)


def pairs_left(s, annotator_id: int, objective_ids: list[int], overlap: int, among: list[int] | None = None) -> int:
    from workbench.store.queue import open_count

    return open_count(s, annotator_id, objective_ids=objective_ids, overlap=overlap, among=among)


def project_pairs(s) -> int:
    """How many pairs the project has (0: the Label panel's Pairs mode has nothing to offer)."""
    from workbench.store.pairs import count_pairs

    return int(count_pairs(s))


def annotator_total(s, annotator_id: int) -> int:
    """The annotator's active labels, skips left out (a skip is no label)."""
    from workbench.store.labels import active_labels

    return sum(lab.choice != "skip" for lab in active_labels(s, annotator_id=annotator_id))


def round_queue(s, number: int):
    """A round's Label step: its pairs not labelled yet in active order (store.round_label.RoundQueue)."""
    from workbench.store.round_label import round_label_queue

    return round_label_queue(s, number)


def round_progress(s, number: int) -> tuple[set[int], int, bool]:
    """(the round's labelled pair ids, its number of pairs, Label step done); marks the step done once every pair
    is labelled."""
    from workbench.store.round_label import close_labelling, labelled_pairs, round_objective_ids
    from workbench.store.rounds import get_round, round_pair_ids

    rnd = get_round(s, number)
    done = close_labelling(s, number)
    return labelled_pairs(s, rnd.id, round_objective_ids(s, rnd.id)), len(round_pair_ids(s, rnd.id)), done
