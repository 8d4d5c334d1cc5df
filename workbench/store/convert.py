"""ORM rows -> frozen core entities: the only place the store's row classes are turned into what others see."""

from __future__ import annotations

import math
from pathlib import Path

from workbench.core.entities import (Annotator, Checkpoint, Evaluation, Label, ModelInfo, Objective, Pair, Prompt,
                                     Response, Run)
from workbench.store import run_paths
from workbench.store.clock import aware
from workbench.store.schema import (AnnotatorRow, CheckpointRow, EvaluationRow, LabelRow, ModelRow, ObjectiveRow,
                                    PairRow, PromptRow, ResponseRow, RunRow)


def nan_if_none(value: float | None) -> float:
    """SQLite stores NaN as NULL; give callers the NaN back."""
    return math.nan if value is None else float(value)


def objective(row: ObjectiveRow) -> Objective:
    return Objective(id=row.id, name=row.name, description=row.description,
                     direction=row.direction)  # type: ignore[arg-type]


def annotator(row: AnnotatorRow) -> Annotator:
    return Annotator(id=row.id, name=row.name)


def prompt(row: PromptRow) -> Prompt:
    return Prompt(id=row.id, text=row.text, messages=row.messages, source=row.source)


def response(row: ResponseRow) -> Response:
    return Response(id=row.id, prompt_id=row.prompt_id, text=row.text, messages=row.messages, model=row.model,
                    generation=dict(row.generation or {}))


def pair(row: PairRow) -> Pair:
    return Pair(id=row.id, prompt_id=row.prompt_id, response_a_id=row.response_a_id,
                response_b_id=row.response_b_id, source=row.source, extra=dict(row.extra or {}))


def label(row: LabelRow) -> Label:
    return Label(id=row.id, pair_id=row.pair_id, objective_id=row.objective_id, annotator_id=row.annotator_id,
                 choice=row.choice, strength=row.strength, note=row.note,  # type: ignore[arg-type]
                 created_at=aware(row.created_at), shown_swapped=bool(row.shown_swapped),
                 superseded=row.superseded_at is not None)


def model(row: ModelRow) -> ModelInfo:
    return ModelInfo(id=row.id, name=row.name, source=row.source, location=row.location,  # type: ignore[arg-type]
                     revision=row.revision, dtype=row.dtype, trust_remote_code=bool(row.trust_remote_code))


def run(row: RunRow, folder: Path | None = None) -> Run:
    """`folder`: the project file's folder, which a stored relative run_dir is relative to (run_paths.py)."""
    return Run(id=row.id, name=row.name, config=dict(row.config or {}), status=row.status,  # type: ignore[arg-type]
               run_dir=str(run_paths.resolve(folder, row.run_dir)) if row.run_dir else row.run_dir, created_at=aware(row.created_at), started_at=aware(row.started_at),
               ended_at=aware(row.ended_at), error=row.error, last_step=row.last_step)


def checkpoint(row: CheckpointRow) -> Checkpoint:
    return Checkpoint(id=row.id, run_id=row.run_id, step=row.step, path=row.path)


def evaluation(row: EvaluationRow) -> Evaluation:
    return Evaluation(id=row.id, objective=row.objective, metric=row.metric, value=nan_if_none(row.value),
                      run_id=row.run_id, checkpoint_id=row.checkpoint_id, weights=row.weights,
                      produced_by=dict(row.produced_by or {}))
