"""The answer checker as a labeller in a project (issue #17): core.auto_step_labels' rule applied to every split
response whose prompt has a reference answer, written as step labels of CHECKER_ANNOTATOR ("auto:checker").

The annotator is marked as an import annotator (store.annotators) besides its "auto:" name (core.rounds), so
every rule for "is this a human label" leaves its labels out. Labels go through store.step_labels (history kept;
running it again writes only the ratings that changed). Responses not split yet are split with `split` when one
is given, else left alone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.auto_step_labels import CHECKER_ANNOTATOR, auto_labels, intermediate_results
from workbench.core.steps import StepSplit
from workbench.store import step_labels as sl
from workbench.store.annotators import get_or_create_annotator, mark_import_annotator
from workbench.store.objectives import get_or_create_objective
from workbench.store.schema import PromptAnswerRow, ResponseRow, StepLabelRow, StepRow, StepSplitRow


@dataclass(frozen=True)
class AutoLabelReport:
    """What one run of the checker did: solutions checked, how many had the right final answer, labels written,
    and the split responses it could not check (their prompt has no reference answer)."""

    checked: int = 0
    correct: int = 0
    labels_written: int = 0
    steps_rated: int = 0
    no_reference: int = 0
    split_now: int = 0


def auto_label_steps(s: Session, objective: str, *, annotator: str = CHECKER_ANNOTATOR,
                     split: StepSplit | None = None) -> AutoLabelReport:
    """Check every split response with a known answer and write the checker's step labels (module docstring)."""
    objective_id = get_or_create_objective(s, objective).id
    annotator_id = get_or_create_annotator(s, annotator).id
    mark_import_annotator(s, annotator_id)
    answers = dict(s.execute(select(PromptAnswerRow.prompt_id, PromptAnswerRow.answer)).all())
    responses = s.execute(select(ResponseRow.id, ResponseRow.prompt_id).order_by(ResponseRow.id)).all()
    split_before = set(sl.step_counts(s))
    split_now = 0
    if split is not None:
        for response_id, prompt_id in responses:
            if response_id not in split_before and answers.get(prompt_id):
                sl.ensure_split(s, response_id, split)
                split_now += 1
    steps_of: dict[int, list[StepRow]] = defaultdict(list)  # one query for all steps, not one per response
    for row in s.scalars(select(StepRow).order_by(StepRow.response_id, StepRow.idx)):
        steps_of[row.response_id].append(row)
    metas = dict(s.execute(select(StepSplitRow.response_id, StepSplitRow.meta)).all())
    mine = dict(s.execute(select(StepLabelRow.step_id, StepLabelRow.rating).where(
        StepLabelRow.objective_id == objective_id, StepLabelRow.annotator_id == annotator_id,
        StepLabelRow.superseded_at.is_(None))).all())
    checked = correct = written = rated = no_reference = 0
    for response_id, prompt_id in responses:
        steps = steps_of.get(response_id)
        if not steps:
            continue
        reference = answers.get(prompt_id, "")
        if not reference:
            no_reference += 1
            continue
        verdict = auto_labels([st.text for st in steps], reference, intermediate_results(metas.get(response_id) or {}))
        checked += 1
        correct += verdict.outcome
        for step, rating in zip(steps, verdict.ratings, strict=True):
            if rating is None:
                continue
            rated += 1
            if step.id not in mine or mine[step.id] != rating:
                sl.write_label(s, step, objective_id, annotator_id, rating, False)
                written += 1
    return AutoLabelReport(checked, correct, written, rated, no_reference, split_now)
