"""Worker events -> project rows (DESIGN.md §2). Qt-free: the GUI and headless `workbench train` both use it.

The worker appends every event to `run_dir/events.jsonl`; that file, not the pipe, is the durable record. Ingestion
remembers in `run.events_offset` the byte offset up to which the file has been stored, so a restarted GUI resumes
where it stopped and never stores an event twice; an incomplete last line (the worker is mid-write) is left for
the next call, and lines that are not protocol messages are counted and skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

from workbench.core.entities import Run
from workbench.core.hv_reference import axis_key
from workbench.core.protocol import Message, ProtocolError, decode, metric_values
from workbench.store import convert
from workbench.store.clock import utcnow
from workbench.store.run_paths import project_folder, resolve
from workbench.store.hv_reference import remember_base
from workbench.store.schema import CheckpointRow, EvaluationRow, MetricRow, RunRow

EVENTS_FILE = "events.jsonl"
LIVE = ("running", "stopping")
CRASHED_MESSAGE = "the training process stopped without reporting why (closed, killed or out of memory)"


@dataclass(frozen=True)
class IngestResult:
    """What one ingestion stored; `ended` is the end reason when an ended event was among the messages."""

    metrics: int = 0
    checkpoints: int = 0
    evaluations: int = 0
    garbage: int = 0
    ended: str | None = None
    last_step: int = 0


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _split_eval_key(key: str) -> tuple[str, str]:
    """'helpful/accuracy' -> ('helpful', 'accuracy'); a key without '/' is a metric of no single objective."""
    objective, sep, metric = key.partition("/")
    return (objective, metric) if sep else ("", key)


def _store_metrics(s: Session, run_id: int, rows: list[dict[str, Any]]) -> None:
    if rows:  # a resumed run may repeat steps: the newest value wins
        stmt = insert(MetricRow)
        s.execute(stmt.on_conflict_do_update(index_elements=["run_id", "key", "step"],
                                             set_={"value": stmt.excluded.value}), rows)


def _store_checkpoint(s: Session, run_id: int, step: int, path: str) -> None:
    stmt = insert(CheckpointRow).values(run_id=run_id, step=step, path=path)
    s.execute(stmt.on_conflict_do_update(index_elements=["run_id", "step"], set_={"path": path}))


def _store_eval(s: Session, run_id: int, msg: Message) -> int:
    checkpoint_id = None
    if msg.data.get("checkpoint"):
        checkpoint_id = s.scalar(select(CheckpointRow.id).where(CheckpointRow.run_id == run_id,
                                                                CheckpointRow.path == msg.data["checkpoint"]))
    rows = [{"run_id": run_id, "checkpoint_id": checkpoint_id, "weights": msg.data.get("weights"),
             "objective": objective, "metric": metric, "value": _finite(value), "created_at": utcnow(),
             "produced_by": {"source": "worker", "step": int(msg.data.get("step", 0)),
                             **({"base_model": True} if msg.data.get("base") else {})}}
            for objective, metric, value in ((*_split_eval_key(k), v) for k, v in metric_values(msg).items())]
    if rows:
        s.execute(insert(EvaluationRow), rows)
    if msg.data.get("base"):  # the untrained model's reward vector: the project's reference point, once (issue 11)
        remember_base(s, {axis_key(r["objective"], r["metric"]): r["value"] for r in rows if r["objective"]})
    return len(rows)


def _apply_state(row: RunRow, msg: Message, step: int) -> None:
    row.last_step = max(row.last_step, step)
    if msg.type == "status" and row.status == "created":
        row.status = "running"
        row.started_at = row.started_at or utcnow()
    if msg.type == "ended":
        row.status = msg.data["reason"]
        row.error = str(msg.data.get("error") or "")
        row.ended_at = utcnow()


def ingest_events(s: Session, run_id: int, messages: Iterable[Message]) -> IngestResult:
    """Store a batch of a run's events: metrics in one bulk statement, the rest row by row (they are few)."""
    row = s.get_one(RunRow, run_id)
    metrics: list[dict[str, Any]] = []
    checkpoints = evaluations = 0
    ended: str | None = None
    for msg in messages:
        step = int(msg.data.get("step", 0) or 0)
        if msg.type == "metric":
            metrics.extend({"run_id": run_id, "step": step, "key": k, "value": _finite(v)}
                           for k, v in metric_values(msg).items())
        elif msg.type == "checkpoint":
            _store_checkpoint(s, run_id, step, str(msg.data.get("path", "")))
            checkpoints += 1
        elif msg.type == "eval":
            evaluations += _store_eval(s, run_id, msg)
        elif msg.type == "ended":
            ended = msg.data["reason"]
        if msg.type in ("metric", "checkpoint", "eval", "status", "ended"):
            _apply_state(row, msg, step)
    _store_metrics(s, run_id, metrics)
    s.flush()
    return IngestResult(metrics=len(metrics), checkpoints=checkpoints, evaluations=evaluations, ended=ended,
                        last_step=row.last_step)


def _read_complete_lines(path: Path, offset: int) -> tuple[list[bytes], int]:
    """Complete lines after `offset` and the offset just past the last one (a partial last line is left)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return [], offset
    if size < offset:  # the file was replaced (a run restarted from scratch): read it again from the start
        offset = 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(size - offset)
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    return data[:end].split(b"\n"), offset + end + 1


def ingest_events_file(s: Session, run_id: int, path: str | Path) -> IngestResult:
    """Ingest what the worker appended to its events file since the last call (see the module docstring)."""
    row = s.get_one(RunRow, run_id)
    lines, new_offset = _read_complete_lines(Path(path), row.events_offset)
    messages: list[Message] = []
    garbage = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            messages.append(decode(line))
        except ProtocolError:
            garbage += 1
    result = ingest_events(s, run_id, messages)
    row.events_offset = new_offset
    s.flush()
    return IngestResult(metrics=result.metrics, checkpoints=result.checkpoints, evaluations=result.evaluations,
                        garbage=garbage, ended=result.ended, last_step=result.last_step)


def reconcile_runs(s: Session, is_alive: Callable[[Run], bool]) -> list[Run]:
    """At start-up: catch up on events written while no GUI watched, and mark dead unfinished runs crashed.

    Returns the runs marked crashed.
    """
    crashed: list[Run] = []
    folder = project_folder(s)
    for row in s.scalars(select(RunRow).where(RunRow.status.in_(("created", *LIVE))).order_by(RunRow.id)):
        events = resolve(folder, row.run_dir) / EVENTS_FILE
        if events.exists():
            ingest_events_file(s, row.id, events)
        if row.status in LIVE and not is_alive(convert.run(row, folder)):
            row.status = "crashed"
            row.error = row.error or CRASHED_MESSAGE
            row.ended_at = utcnow()
            s.flush()
            crashed.append(convert.run(row, folder))
    return crashed
