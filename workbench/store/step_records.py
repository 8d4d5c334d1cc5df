"""Step-labelled solutions in and out of a project (issue #17): the store side of the step formats.

The formats (workbench.formats: TRL stepwise supervision, PRM800K, Math-Shepherd, ProcessBench) read files into
core.steps.StepwiseRecord and call `import_stepwise`; their exporters call `export_stepwise` and write the records.

import_stepwise(s, records, objective, annotator, *, source="", human=False) -> StepImportReport
    Each record becomes a prompt (deduplicated), a response whose text is the steps joined by "\\n" ("\\n\\n" when a
    step holds a line break), that response's steps exactly as given, and one step label per rated step by
    `annotator` for `objective` (both created when new). Unless `human`, the annotator is marked as an import
    annotator: its labels do not fill the labelling queue's overlap. A record's reference answer is kept as its
    prompt's. All or nothing: every record is checked before anything is written, and the writes run in a
    savepoint, so one bad record leaves the project as it was and raises InputError("record N: ...", line=N).
    Importing the same records again adds nothing (reported as duplicates).

export_stepwise(s, objective, *, annotator_id=None) -> list[StepwiseRecord]
    One record per split response with at least one rated step for `objective` (name or id), in response order:
    per step the latest active rating of a human annotator, else of an import annotator (or only `annotator_id`'s
    labels); unrated steps are None. Carries the prompt's reference answer and the source/meta it was imported with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.errors import InputError, ProjectError
from workbench.core.step_labels import IMPORTED
from workbench.core.steps import Step, StepSplit, StepwiseRecord, split_steps
from workbench.store import step_labels as sl
from workbench.store.annotators import get_or_create_annotator, import_annotator_ids, mark_import_annotator
from workbench.store.objectives import get_or_create_objective
from workbench.store.pairs import add_prompt, add_response, content_fields
from workbench.store.schema import (ObjectiveRow, PromptAnswerRow, PromptRow, ResponseRow, StepLabelRow, StepRow,
                                    StepSplitRow)


@dataclass(frozen=True)
class StepImportReport:
    """What `import_stepwise` added; `duplicates` are the 1-based numbers of records already in the project."""

    records: int = 0
    responses_added: int = 0
    steps_added: int = 0
    labels_added: int = 0
    duplicates: tuple[int, ...] = ()
    objective_created: bool = False


def response_text(steps: Sequence[str]) -> tuple[str, list[Step]]:
    """The response text of given steps and each step's span in it (see the module docstring)."""
    sep = "\n\n" if any("\n" in st for st in steps) else "\n"
    spans, pos = [], 0
    for i, st in enumerate(steps):
        spans.append(Step(i, st, pos, pos + len(st)))
        pos += len(st) + len(sep)
    return sep.join(steps), spans


def split_mode_of(text: str, steps: Sequence[str]) -> str:
    """"line" or "paragraph" when that rule gives back exactly these steps from the text, else "imported"."""
    for mode in ("line", "paragraph"):
        if [st.text for st in split_steps(text, StepSplit(mode))] == list(steps):  # type: ignore[arg-type]
            return mode
    return IMPORTED


def _check(records: Sequence[StepwiseRecord]) -> None:
    for n, rec in enumerate(records, start=1):
        problem = ""
        if not isinstance(rec, StepwiseRecord):
            problem = f"expected a step-labelled solution, got {type(rec).__name__}"
        elif not isinstance(rec.prompt, str) or not rec.prompt.strip():
            problem = "the prompt is empty"
        elif not rec.steps:
            problem = "the solution has no steps"
        else:
            for i, st in enumerate(rec.steps, start=1):
                if not isinstance(st, str) or not st.strip():
                    problem = f"step {i} is empty"
                    break
        if problem:
            raise InputError(f"record {n}: {problem}; nothing was imported. Fix or remove that record.", line=n)


def import_stepwise(s: Session, records: Sequence[StepwiseRecord], objective: str, annotator: str, *,
                    source: str = "", human: bool = False) -> StepImportReport:
    """See the module docstring."""
    records = list(records)
    _check(records)
    created = s.scalar(select(ObjectiveRow.id).where(ObjectiveRow.name == objective.strip())) is None
    with s.begin_nested():
        objective_id = get_or_create_objective(s, objective).id
        annotator_id = get_or_create_annotator(s, annotator).id
        if not human:
            mark_import_annotator(s, annotator_id)
        added = steps_added = labels = 0
        duplicates = []
        for n, rec in enumerate(records, start=1):
            a, st, lab = _import_one(s, n, rec, objective_id, annotator_id, source)
            added, steps_added, labels = added + a, steps_added + st, labels + lab
            if not a and not lab:
                duplicates.append(n)
    return StepImportReport(len(records), added, steps_added, labels, tuple(duplicates), created)


def _import_one(s: Session, n: int, rec: StepwiseRecord, objective_id: int, annotator_id: int,
                source: str) -> tuple[int, int, int]:
    """(responses added, steps added, labels added) for one record."""
    prompt = add_prompt(s, rec.prompt, source=source or rec.source)
    if rec.reference_answer.strip() and sl.reference_answer(s, prompt.id) != rec.reference_answer.strip():
        sl.set_reference_answer(s, prompt.id, rec.reference_answer, source=source or rec.source)
    text, spans = response_text(rec.steps)
    known = s.scalar(select(ResponseRow.id).where(ResponseRow.prompt_id == prompt.id,
                                                  ResponseRow.text_hash == content_fields(text)[2]))
    response = add_response(s, prompt.id, text, model=str(rec.meta.get("generator", "") or ""))
    current = sl.get_steps(s, response.id)
    steps_added = 0
    if current is None or [st.text for st in current.steps] != list(rec.steps):
        try:
            sl.store_steps(s, response.id, split_mode_of(text, rec.steps), "", spans, source=source or rec.source,
                           meta=rec.meta)
        except ProjectError as exc:
            raise InputError(f"record {n}: {exc}; nothing was imported.", line=n) from None
        steps_added = len(spans)
    labels = 0
    for i, rating in enumerate(rec.ratings):
        if rating is None:
            continue
        step = s.scalar(select(StepRow).where(StepRow.response_id == response.id, StepRow.idx == i))
        active = sl.active_row(s, step.id, objective_id, annotator_id)
        if active is not None and active.rating == rating:
            continue
        sl.write_label(s, step, objective_id, annotator_id, rating, False)
        labels += 1
    return int(known is None), steps_added, labels


def _objective_id(s: Session, objective: int | str) -> int:
    if isinstance(objective, int):
        if s.get(ObjectiveRow, objective) is None:
            raise ProjectError(f"objective {objective} does not exist: reload the project")
        return objective
    oid = s.scalar(select(ObjectiveRow.id).where(ObjectiveRow.name == objective))
    if oid is None:
        raise ProjectError(f"the project has no objective named {objective!r}: check the spelling or add it")
    return oid


def iter_stepwise(s: Session, objective: int | str, *, annotator_id: int | None = None
                  ) -> Iterator[tuple[int, StepwiseRecord]]:
    """(response id, record) of `export_stepwise`, in response order."""
    objective_id = _objective_id(s, objective)
    machines = import_annotator_ids(s)
    query = (select(StepLabelRow.annotator_id, StepLabelRow.rating, StepRow.response_id, StepRow.idx)
             .join(StepRow, StepLabelRow.step_id == StepRow.id)
             .where(StepLabelRow.objective_id == objective_id, StepLabelRow.superseded_at.is_(None),
                    StepLabelRow.rating.is_not(None))
             .order_by(StepRow.response_id, StepLabelRow.id))
    if annotator_id is not None:
        query = query.where(StepLabelRow.annotator_id == annotator_id)
    chosen: dict[int, dict[int, tuple[bool, int]]] = {}
    for annotator, rating, response_id, idx in s.execute(query):
        per_step = chosen.setdefault(response_id, {})
        human = annotator not in machines
        if idx not in per_step or human or not per_step[idx][0]:  # later ids win; a human beats an import
            per_step[idx] = (human, rating)
    for response_id, per_step in chosen.items():
        response = s.get_one(ResponseRow, response_id)
        split = s.scalar(select(StepSplitRow).where(StepSplitRow.response_id == response_id))
        steps = sl.list_steps(s, response_id)
        prompt = s.get_one(PromptRow, response.prompt_id)
        answer = s.get(PromptAnswerRow, prompt.id)
        ratings = tuple(per_step[i][1] if i in per_step else None for i in range(len(steps)))
        yield response_id, StepwiseRecord(prompt=prompt.text, steps=tuple(st.text for st in steps), ratings=ratings,
                                          reference_answer=answer.answer if answer is not None else "",
                                          source=split.source if split is not None else "",
                                          meta=dict(split.meta or {}) if split is not None else {})


def export_stepwise(s: Session, objective: int | str, *, annotator_id: int | None = None) -> list[StepwiseRecord]:
    """See the module docstring."""
    return [rec for _, rec in iter_stepwise(s, objective, annotator_id=annotator_id)]
