"""`workbench train PROJECT --config run.toml [--runs-dir D] [--resume RUN_ID]`: one run, headless.

Same worker, same protocol and the same Qt-free ingestion (workbench.store.ingest) as the GUI (DESIGN.md §2);
Ctrl+C asks the worker to stop (it checkpoints after its current step, however long it takes); Ctrl+C again
kills it (cli/supervise.py: the rule every headless command follows).
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cli.launch import configured_processes, slurm_script, train_command
from workbench.core.entities import Run
from workbench.core.errors import RunError
from workbench.core.protocol import Message, metric_values
from workbench.core.run_config import RunConfig

if TYPE_CHECKING:  # imported when a command runs: `workbench --help` stays fast
    from workbench.cli.supervise import WorkerProcess
    from workbench.store.db import Project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="the project .sqlite file")
    parser.add_argument("--config", help="run settings (.toml or .json); see RunConfig")
    parser.add_argument("--runs-dir", help="where run folders go (default: <project>.runs next to the project)")
    parser.add_argument("--resume", type=int, metavar="RUN_ID", help="continue a stopped or crashed run")
    parser.add_argument("--grace", type=float, default=None,
                        help="seconds a stopping worker gets before it is killed (default: no limit; Ctrl+C again "
                             "kills at once)")
    parser.add_argument("--nproc", type=int, metavar="N",
                        help="training processes (one per GPU) under torchrun; overrides the config's `processes`")
    parser.add_argument("--fsdp", action="store_true", help="with --nproc N: shard the base model's layers (FSDP)")
    parser.add_argument("--emit-launch", nargs="?", const="-", metavar="DIR",
                        help="prepare the run folder, do not train: print (or write into DIR) the torchrun command "
                             "and a Slurm batch script that train it elsewhere")
    parser.add_argument("--nodes", type=int, default=1, help="with --emit-launch: nodes in the Slurm script")
    from workbench.cli.consent import add_trust_argument

    add_trust_argument(parser, remote_code=True)


def worker_argv(run_dir: Path, resume: bool, processes: int | None = None) -> list[str]:
    """The worker command line for a run folder: its config's `processes` (or `processes`) under torchrun."""
    n = configured_processes(run_dir) if processes is None else processes
    return train_command(run_dir, resume=resume, processes=n)


def progress_line(msg: Message) -> str | None:
    """One line per metric event: step/total, loss, ETA (None for events not worth a line)."""
    if msg.type == "metric":
        v = metric_values(msg)
        if "loss" not in v:
            return None
        eta = v.get("eta_s")
        eta_text = f"  eta {eta:.0f}s" if eta is not None and eta == eta else ""
        return f"step {msg.data.get('step')}  loss {v['loss']:.4f}{eta_text}"
    if msg.type == "status" and msg.data.get("state") != "training":
        fraction = msg.data.get("progress")
        done = f" {100 * fraction:.0f}%" if isinstance(fraction, (int, float)) and 0 < fraction < 1 else ""
        return f"[{msg.data.get('state')}] {msg.data.get('message', '')}{done}"
    if msg.type == "log" and msg.data.get("level") in ("warning", "error"):
        return f"{msg.data['level']}: {msg.data.get('message', '')}"
    return None


def _prepare(project, args: argparse.Namespace):
    from workbench.cli.consent import check_run_scorers, project_registry, trust_files
    from workbench.store.run_prep import prepare_run
    from workbench.store.runs import get_run, set_run_status

    with project.session() as s:
        if args.resume is not None:
            run = get_run(s, args.resume)
            if run.status == "running":
                raise RunError(f"run {run.id} is still running; stop it first")
            if getattr(args, "trust_scorers", False):
                trust_files(project.path, [Path(run.run_dir)])
            check_run_scorers(project.path, Path(run.run_dir), (run.config or {}).get("margin_scorers", {}).values())
            set_run_status(s, run.id, "running")
            return run
        if not args.config:
            raise RunError("give --config run.toml (or --resume RUN_ID)")
        cfg = RunConfig.load(args.config)
        if getattr(args, "trust_scorers", False):
            trust_files(project.path)
        project_registry(project.path, cfg.margin_scorers.values())  # an untrusted scorers.py stops it here
        if args.nproc is not None:
            cfg.processes = args.nproc
        if args.fsdp:
            cfg.fsdp = True
        runs_root = Path(args.runs_dir) if args.runs_dir else Path(project.path).with_suffix(".runs")
        run = prepare_run(s, cfg, runs_root)
        if not getattr(args, "emit_launch", None):
            set_run_status(s, run.id, "running")
        return run


class CtrlC:
    """While active, Ctrl+C (SIGINT) only counts presses. The default KeyboardInterrupt would surface inside the
    message generator (it waits on the worker's output queue) and end it, so the parent would stop listening
    before the worker said how it ended."""

    def __init__(self) -> None:
        self.presses = 0
        self._previous: object = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._pressed)
        return self

    def _pressed(self, _sig: int, _frame: object) -> None:
        self.presses += 1

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]


def follow(project: Project, run_id: int, worker: WorkerProcess) -> Run:
    """Ingest a worker's events into the store batch by batch and print progress until its stdout closes; Ctrl+C
    follows WorkerProcess.interrupt (stop, then kill). Returns the run as the store then has it (a worker that died
    without an `ended` event is recorded as crashed)."""
    from workbench.store.ingest import ingest_events
    from workbench.store.runs import get_run

    handled = 0
    with CtrlC() as ctrl_c:
        for batch in worker.messages():  # a batch at least every 0.2 s, so Ctrl+C is seen at once
            while handled < ctrl_c.presses:
                handled += 1
                print(worker.interrupt(), flush=True)
            if batch:
                with project.session() as s:
                    ingest_events(s, run_id, batch)
                for msg in batch:
                    line = progress_line(msg)
                    if line:
                        print(line, flush=True)
    with project.session() as s:
        return get_run(s, run_id)


def _remote_code_consent(run: Run, args: argparse.Namespace) -> list[str]:
    """The model whose own code may run: when the config file the user passed now asks for it, or a resumed run's
    stored setting asks and the user added --trust-remote-code (a stored setting alone is not consent)."""
    cfg = run.config or {}
    asked = bool(cfg.get("trust_remote_code")) and (bool(args.config and args.resume is None)
                                                    or getattr(args, "trust_remote_code", False))
    return [str(cfg.get("model") or "")] if asked else []


def run(args: argparse.Namespace) -> int:
    from workbench.cli.consent import worker_env
    from workbench.cli.supervise import WORKER_LOG, WorkerProcess
    from workbench.store.db import open_project

    project = open_project(args.project)
    try:
        if args.emit_launch and args.resume is not None:
            raise RunError("--emit-launch prepares a new run; for a run trained elsewhere, rerun its "
                           "launch script with --resume added to the worker command")
        run_row = _prepare(project, args)
        print(f"run {run_row.id}: {run_row.run_dir}", flush=True)
        if args.emit_launch:
            return emit_launch(Path(run_row.run_dir), args.emit_launch, nodes=args.nodes)
        processes = args.nproc if args.resume is not None else None
        worker = WorkerProcess(worker_argv(Path(run_row.run_dir), args.resume is not None, processes),
                               run_id=str(run_row.id), grace_s=args.grace,
                               log_path=Path(run_row.run_dir) / WORKER_LOG,
                               env=worker_env(project.path, _remote_code_consent(run_row, args)))
        final = follow(project, run_row.id, worker)
        error = f": {final.error}" if final.error else ""
        print(f"run {final.id} {final.status} at step {final.last_step}{error}")
        if final.status not in ("finished", "stopped"):
            print(f"the worker's full log: {worker.log_path}")
        return 0 if final.status in ("finished", "stopped") else 1
    finally:
        project.close()


def emit_launch(run_dir: Path, where: str, *, nodes: int = 1) -> int:
    """Print (where == "-") or write into `where` the commands that train a prepared run folder elsewhere."""
    import shlex

    processes = configured_processes(run_dir)
    command = " ".join(shlex.quote(a) for a in train_command(run_dir, processes=processes, detached=True))
    script = slurm_script(run_dir, processes=processes, nodes=nodes)
    if where == "-":
        print(f"# train on this machine ({processes} process(es)):\n{command} > /dev/null\n")
        print(f"# or submit to Slurm (sbatch):\n{script}")
    else:
        out = Path(where)
        out.mkdir(parents=True, exist_ok=True)
        (out / "train.sh").write_text(f"#!/bin/bash\n{command} > /dev/null\n", encoding="utf-8")
        (out / "train.sbatch").write_text(script, encoding="utf-8")
        print(f"wrote {out / 'train.sh'} and {out / 'train.sbatch'}")
    print(f"# events and checkpoints land in {run_dir}; with that folder back in place, the GUI ingests its "
          f"events.jsonl when it opens the project")
    return 0
