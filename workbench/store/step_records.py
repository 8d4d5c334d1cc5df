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
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.errors import ProjectError
from workbench.core.steps import StepwiseRecord
from workbench.store.annotators import get_or_create_annotator, import_annotator_ids, mark_import_annotator
from workbench.store.objectives import get_or_create_objective
from workbench.store.schema import (ObjectiveRow, PromptAnswerRow, PromptRow, ResponseRow, StepLabelRow, StepRow,
                                    StepSplitRow)
from workbench.store.step_import import (StepImportReport, check_records, response_text, split_mode_of,  # noqa: F401
                                         write_records)

CHUNK = 500


def import_stepwise(s: Session, records: Sequence[StepwiseRecord], objective: str, annotator: str, *,
                    source: str = "", human: bool = False) -> StepImportReport:
    """See the module docstring."""
    records = list(records)
    check_records(records)
    created = s.scalar(select(ObjectiveRow.id).where(ObjectiveRow.name == objective.strip())) is None
    with s.begin_nested():
        objective_id = get_or_create_objective(s, objective).id
        annotator_id = get_or_create_annotator(s, annotator).id
        if not human:
            mark_import_annotator(s, annotator_id)
        report = write_records(s, records, objective_id, annotator_id, source)
    return replace(report, objective_created=created)


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
    ids = list(chosen)
    for start in range(0, len(ids), CHUNK):  # the records' texts a chunk of responses at a time
        chunk = ids[start:start + CHUNK]
        prompt_of = dict(s.execute(select(ResponseRow.id, ResponseRow.prompt_id)
                                   .where(ResponseRow.id.in_(chunk))).all())
        prompts = dict(s.execute(select(PromptRow.id, PromptRow.text)
                                 .where(PromptRow.id.in_(set(prompt_of.values())))).all())
        answers = dict(s.execute(select(PromptAnswerRow.prompt_id, PromptAnswerRow.answer)
                                 .where(PromptAnswerRow.prompt_id.in_(set(prompt_of.values())))).all())
        splits = {r: (src, meta) for r, src, meta in s.execute(
            select(StepSplitRow.response_id, StepSplitRow.source, StepSplitRow.meta)
            .where(StepSplitRow.response_id.in_(chunk))).all()}
        steps: dict[int, list[str]] = {}
        for response_id, _, text in s.execute(select(StepRow.response_id, StepRow.idx, StepRow.text)
                                              .where(StepRow.response_id.in_(chunk))
                                              .order_by(StepRow.response_id, StepRow.idx)):
            steps.setdefault(response_id, []).append(text)
        for response_id in chunk:
            per_step, texts = chosen[response_id], steps.get(response_id, [])
            source, meta = splits.get(response_id, ("", {}))
            yield response_id, StepwiseRecord(
                prompt=prompts[prompt_of[response_id]], steps=tuple(texts),
                ratings=tuple(per_step[i][1] if i in per_step else None for i in range(len(texts))),
                reference_answer=answers.get(prompt_of[response_id], ""), source=source or "", meta=dict(meta or {}))


def export_stepwise(s: Session, objective: int | str, *, annotator_id: int | None = None) -> list[StepwiseRecord]:
    """See the module docstring."""
    return [rec for _, rec in iter_stepwise(s, objective, annotator_id=annotator_id)]
