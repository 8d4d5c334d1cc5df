"""Training runs and what they produced: status, metric series, checkpoints, evaluations.

Rows are written by the GUI process only (DESIGN.md §2): metrics, checkpoints and evaluations arrive through
`ingest.py` from the worker's events; status changes come from the supervisor.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.entities import Checkpoint, Evaluation, Run
from workbench.core.errors import ProjectError
from workbench.store import convert
from workbench.store.clock import utcnow
from workbench.store.run_paths import project_folder, to_stored
from workbench.store.schema import CheckpointRow, EvaluationRow, MetricRow, RunRow

STATUSES = ("created", "running", "stopping", "finished", "stopped", "failed", "crashed")
ENDED = ("finished", "stopped", "failed", "crashed")


def _row(s: Session, run_id: int) -> RunRow:
    row = s.get(RunRow, run_id)
    if row is None:
        raise ProjectError(f"run {run_id} does not exist (it may have been deleted): reload the project")
    return row


def create_run(s: Session, name: str, config: dict[str, Any], run_dir: str) -> Run:
    stored = to_stored(project_folder(s), run_dir) if str(run_dir) else ""
    row = RunRow(name=name, config=dict(config), status="created", run_dir=stored, created_at=utcnow())
    s.add(row)
    s.flush()
    return convert.run(row, project_folder(s))


def get_run(s: Session, run_id: int) -> Run:
    return convert.run(_row(s, run_id), project_folder(s))


def list_runs(s: Session) -> list[Run]:
    folder = project_folder(s)
    return [convert.run(r, folder) for r in s.scalars(select(RunRow).order_by(RunRow.id))]


def set_run_status(s: Session, run_id: int, status: str, error: str = "") -> Run:
    """Move a run to `status`; the first 'running' stamps started_at, an ended status stamps ended_at."""
    if status not in STATUSES:
        raise ProjectError(f"unknown run status {status!r}")
    row = _row(s, run_id)
    row.status = status
    if status == "running":
        if row.started_at is None:
            row.started_at = utcnow()
        row.ended_at = None
        row.error = ""
    if status in ENDED:
        row.ended_at = utcnow()
    if error:
        row.error = error
    s.flush()
    return convert.run(row, project_folder(s))


def metric_series(s: Session, run_id: int, key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric, by step (NaN where the worker reported a non-finite value)."""
    rows = s.execute(select(MetricRow.step, MetricRow.value).where(MetricRow.run_id == run_id, MetricRow.key == key)
                     .order_by(MetricRow.step)).all()
    return [r[0] for r in rows], [convert.nan_if_none(r[1]) for r in rows]


def metric_keys(s: Session, run_id: int) -> list[str]:
    return list(s.scalars(select(MetricRow.key).where(MetricRow.run_id == run_id).distinct().order_by(MetricRow.key)))


def list_checkpoints(s: Session, run_id: int) -> list[Checkpoint]:
    return [convert.checkpoint(r) for r in s.scalars(select(CheckpointRow).where(CheckpointRow.run_id == run_id)
                                                      .order_by(CheckpointRow.step))]


def add_evaluation(s: Session, *, objective: str, metric: str, value: float, run_id: int | None = None,
                   checkpoint_id: int | None = None, weights: dict[str, float] | None = None,
                   produced_by: dict[str, Any] | None = None) -> Evaluation:
    """One measured number: of a run's checkpoint, or of a mixture (`weights`) of adapters."""
    row = EvaluationRow(objective=objective, metric=metric, value=value if math.isfinite(value) else None,
                        run_id=run_id, checkpoint_id=checkpoint_id, weights=weights,
                        produced_by=dict(produced_by or {}), created_at=utcnow())
    s.add(row)
    s.flush()
    return convert.evaluation(row)


def list_evaluations(s: Session, run_id: int | None = None) -> list[Evaluation]:
    query = select(EvaluationRow).order_by(EvaluationRow.id)
    if run_id is not None:
        query = query.where(EvaluationRow.run_id == run_id)
    return [convert.evaluation(r) for r in s.scalars(query)]
