"""Store calls of the Label panel's step mode and the step agreement view, run on the DB thread (the store is
imported on first use, off the start-up path)."""

from __future__ import annotations

from workbench.core.entities import Objective
from workbench.core.step_labels import StepLabel


def responses_left(s, annotator_id: int, objective_id: int, overlap: int) -> int:
    from workbench.store.step_queue import open_response_count

    return open_response_count(s, annotator_id, objective_id, overlap=overlap)


def load_step_labels(s) -> tuple[list[Objective], list[StepLabel], dict[int, int]]:
    """Objectives, every active step label (cleared ones too: they complete a first-error mark), and the number of
    steps of each split response."""
    from workbench.store.objectives import list_objectives
    from workbench.store.step_labels import active_step_labels, step_counts

    return list_objectives(s), active_step_labels(s, rated_only=False), step_counts(s)
