"""How worker processes are named and recognised: the command lines of the training and evaluation workers
(`python -m workbench worker train|eval ...`; a frozen app re-executes itself, DESIGN.md §2), the pid file a
worker leaves in its run folder, and the store functions the supervisor runs on the DB thread (imported on first
use, so SQLAlchemy stays out of start-up). Qt-free."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

PID_FILE = "worker.pid"
CommandFactory = Callable[[Path], tuple[str, list[str]]]
EvalCommandFactory = Callable[[Path, str, list[dict[str, float]]], tuple[str, list[str]]]


def store_ingest_events_file(s: Any, run_id: int, path: Path) -> Any:
    """Default DB-thread ingestion (workbench.store.ingest), imported on first use to keep start-up light."""
    from workbench.store.ingest import ingest_events_file

    return ingest_events_file(s, run_id, path)


def store_set_run_status(s: Any, run_id: int, status: str, error: str) -> Any:
    from workbench.store.runs import set_run_status

    return set_run_status(s, run_id, status, error)


def eval_command(run_dir: Path, checkpoint: str, weights: list[dict[str, float]], *,
                 reward_model: str = "") -> tuple[str, list[str]]:
    """The evaluation worker for mixtures of one checkpoint (none given = the checkpoint as trained); mixtures make
    a front, so the untrained base model is evaluated with them (`--base`: a point on every front, issue 11).
    `reward_model`: a vector reward model's checkpoint that also rates the generations (issue #17)."""
    from workbench.cli.launch import worker_command as one_worker

    program, *args = one_worker(run_dir)  # evaluation runs in one process, whatever the run trained with
    args = [a if a != "train" else "eval" for a in args] + (["--checkpoint", checkpoint] if checkpoint else [])
    if weights:
        args += ["--weights-json", json.dumps(weights, sort_keys=True), "--base"]
    if reward_model:
        args += ["--reward-model", reward_model]
    return program, args


def worker_command(run_dir: Path) -> tuple[str, list[str]]:
    """The program and arguments that run the training worker for `run_dir` (frozen apps re-execute themselves;
    a run with `processes` > 1 starts under torchrun), built by workbench.cli.launch like the CLI's."""
    from workbench.cli.launch import configured_processes, train_command

    argv = train_command(run_dir, processes=configured_processes(run_dir))
    return argv[0], argv[1:]


def read_pid(run_dir: Path) -> int | None:
    try:
        return int((run_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


