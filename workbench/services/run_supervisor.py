"""RunSupervisor: starts, watches and stops training worker processes with QProcess (DESIGN.md §2).

One child process per run: `[python, -m, workbench, worker, train, --run-dir, D]` (frozen builds: the executable
itself). Not multiprocessing, not threads: CUDA after fork breaks and threads cannot be killed.

Data paths, kept apart on purpose:
- live view: the worker's stdout lines are decoded (workbench.core.protocol) and appended to a per-run SeriesStore;
  the batch of new points is emitted as `metrics(run_id, {key: (steps, values)})` on a flush timer (never once per
  message), other events as `event(run_id, Message)`.
- durable record: the worker also appends every event to `run_dir/events.jsonl`; on every flush the DB thread runs
  `workbench.store.ingest.ingest_events_file`, which remembers the byte offset it has ingested, so the same event is
  never stored twice — not even when a later session re-ingests after a GUI crash (`reconcile_runs`).

Reading stdout is time-boxed (`_PARSE_BUDGET_S` per pass, the rest on the next turn of the event loop) so a worker
that floods the pipe cannot freeze the window.

Stop is cooperative: a `stop` command on stdin, stdin closed (EOF also means stop). The worker finishes the step
it is in, saves a checkpoint and exits, however long that step takes (SmolLM2 steps on a CPU take 20-45 s, issue
#13): the supervisor never turns a Stop into a kill; only Kill kills (and `stop_all`, when the window closes and
cannot wait). A stopped run is started again with `--resume`, so it continues from its last checkpoint.
The worker's pid is written to `run_dir/worker.pid`, so a later session can tell a live worker from a dead one.

Evaluation jobs (`start_eval`: `workbench worker eval --run-dir D --checkpoint C --weights-json [...]`, mo_api.md)
go through the same machinery: their `eval` events land in the run's events.jsonl and are ingested like a training
run's. They do not own the run's state: the run keeps the status it had (a failed evaluation does not turn a
finished run into a failed one; `eval_finished(run_id, reason, error)` tells the panels how it went).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from workbench.core.entities import Run
from workbench.core.errors import RunError
from workbench.core.protocol import Message, ProtocolError, decode, encode, metric_values
from workbench.core.remote_code import consent_env
from workbench.core.scorer_trust import trust_env
from workbench.core.series import SeriesStore
from workbench.services.worker_process import (PID_FILE, CommandFactory, EvalCommandFactory, eval_command, read_pid,
                                               store_ingest_events_file, store_set_run_status, worker_command)

FLUSH_MS = 150
_PARSE_BUDGET_S = 0.003  # per pass; the rest waits a turn of the event loop (timers and paints go first)
EVENTS_FILE = "events.jsonl"

__all__ = ["PID_FILE", "EVENTS_FILE", "LiveInfo", "RunSupervisor", "eval_command", "read_pid", "worker_command"]


@dataclass
class LiveInfo:
    """What the runs table shows for a run while its worker is attached."""

    state: str = "starting"
    message: str = ""
    step: int = 0
    total_steps: int = 0
    eta_s: float | None = None
    loss: float | None = None
    ended: str = ""  # the ended reason once the worker said goodbye
    error: str = ""
    # A phase outside the training steps (loading, reference log-probs, scoring pairs for active labelling...):
    # its own progress and an ETA from its elapsed time, so a long pass after training never shows "100%, ETA 0 s".
    phase_progress: float | None = None
    phase_started: float = 0.0


@dataclass
class _Job:
    run: Run
    run_dir: Path
    process: QProcess
    buffer: bytearray = field(default_factory=bytearray)
    pending_metrics: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    pending_events: list[Message] = field(default_factory=list)
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=40))
    stop_requested: bool = False
    saw_ended: bool = False
    parse_scheduled: bool = False
    bad_lines: int = 0
    exit_code: int | None = None  # set when the process has exited (its last lines may still be parsing)
    kind: str = "train"  # "train" | "eval" (an evaluation of a run's checkpoint; see the module docstring)


class RunSupervisor(QObject):
    """See the module docstring. Signals carry the run id (int) first."""

    event = Signal(int, object)  # run id, Message (status, log, checkpoint, eval, ended; stderr as log)
    metrics = Signal(int, object)  # run id, {key: (steps ndarray, values ndarray)} new since the last flush
    run_state_changed = Signal(int, str)  # run id, "running" | "stopping" | "finished" | "stopped" | "failed" | "crashed"
    evaluations_ingested = Signal(int)
    eval_finished = Signal(int, str, str)  # run id, reason (finished | stopped | failed | crashed), error
    _ingested = Signal(int, object)  # emitted from the DB thread; delivered queued on the GUI thread

    def __init__(self, db: Any, parent: QObject | None = None, *, command: CommandFactory = worker_command,
                 flush_ms: int = FLUSH_MS,
                 eval_command: EvalCommandFactory = eval_command) -> None:
        super().__init__(parent)
        self.db = db
        self.command = command
        self.eval_command = eval_command
        # Store functions run on the DB thread; replaceable so the supervisor can be tested on its own.
        self.ingest_events_file = store_ingest_events_file
        self.set_run_status = store_set_run_status
        self._jobs: dict[int, _Job] = {}
        self._series: dict[int, SeriesStore] = {}
        self._live: dict[int, LiveInfo] = {}
        self._runs_root: Path | None = None
        self._project_path: Path | None = None
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(flush_ms)
        self._flush_timer.timeout.connect(self.flush)
        self._ingested.connect(self._on_ingested)

    # --- queries ----------------------------------------------------------------------------------------------
    def set_runs_root(self, root: Path | None, project_path: Path | None = None) -> None:
        self._runs_root = root
        self._project_path = project_path  # whose trusted scorers hashes the workers get (core.scorer_trust)

    def run_dir(self, run: Run) -> Path:
        p = Path(run.run_dir)
        if not p.is_absolute() and self._runs_root is not None:
            p = self._runs_root.parent / p
        return p

    def running_ids(self) -> list[int]:
        return [rid for rid, job in self._jobs.items() if job.process.state() != QProcess.ProcessState.NotRunning]

    def is_running(self, run_id: int) -> bool:
        return run_id in self.running_ids()

    def series(self, run_id: int) -> SeriesStore:
        """The live metric series of a run (created empty; the runs panel fills it from the store for old runs)."""
        return self._series.setdefault(run_id, SeriesStore())

    def live(self, run_id: int) -> LiveInfo | None:
        return self._live.get(run_id)

    def is_alive(self, run: Run) -> bool:
        """Is a worker for `run` still alive: ours (QProcess state) or one left by an earlier session (pid file)."""
        if self.is_running(run.id):
            return True
        pid = read_pid(self.run_dir(run))
        if pid is None:
            return False
        import psutil  # only when a stale pid file needs checking

        try:
            proc = psutil.Process(pid)
            return proc.is_running() and any("worker" in part for part in proc.cmdline())
        except (psutil.Error, OSError):
            return False

    # --- start / stop -------------------------------------------------------------------------------------------
    def start(self, run: Run, *, resume: bool = False, remote_code_confirmed: bool = False) -> None:
        """Launch the worker for `run`; `resume` (a stopped or crashed run) continues from its last checkpoint,
        exactly as `workbench train --resume` does. `remote_code_confirmed`: the user allowed the model's own code
        just now (core/remote_code.py)."""
        if self.is_running(run.id):
            return
        run_dir = self.run_dir(run)
        program, args = self.command(run_dir)
        self._launch(run, run_dir, (program, [*args, "--resume"] if resume else args), "train", remote_code_confirmed)

    def start_eval(self, run: Run, checkpoint: str, weights: list[dict[str, float]], *, reward_model: str = "",
                   remote_code_confirmed: bool = False) -> None:
        """Evaluate `checkpoint` of `run` under each mixture in `weights` in an evaluation worker (`reward_model`: a
        vector reward model's checkpoint that also rates the generations; `remote_code_confirmed`: the user allowed
        the model's own code just now, as for start)."""
        if self.is_running(run.id):
            raise RunError(f"'{run.name}' has a job running: wait for it to end (or stop it) before evaluating")
        run_dir = self.run_dir(run)
        command = (self.eval_command(run_dir, checkpoint, weights, reward_model=reward_model) if reward_model
                   else self.eval_command(run_dir, checkpoint, weights))
        self._launch(run, run_dir, command, "eval", remote_code_confirmed)

    def job_kind(self, run_id: int) -> str | None:
        job = self._jobs.get(run_id)
        return job.kind if job is not None else None

    def _launch(self, run: Run, run_dir: Path, command: tuple[str, list[str]], kind: str,
                remote_code_confirmed: bool = False) -> None:
        proc = QProcess(self)
        program, args = command
        proc.setProgram(program)
        proc.setArguments(args)
        proc.setWorkingDirectory(str(run_dir))
        env = QProcessEnvironment.systemEnvironment()
        models = [str((run.config or {}).get("model") or "")] if remote_code_confirmed else []
        extra = {**consent_env(models), **(trust_env(self._project_path) if self._project_path is not None else {})}
        for key, value in extra.items():
            env.insert(key, value)
        proc.setProcessEnvironment(env)
        job = _Job(run=run, run_dir=run_dir, process=proc, kind=kind)
        self._jobs[run.id] = job
        self._live[run.id] = LiveInfo(state="evaluating" if kind == "eval" else "starting")
        proc.readyReadStandardOutput.connect(lambda rid=run.id: self._on_stdout(rid))
        proc.readyReadStandardError.connect(lambda rid=run.id: self._on_stderr(rid))
        proc.started.connect(lambda rid=run.id: self._on_started(rid))
        proc.errorOccurred.connect(lambda err, rid=run.id: self._on_error(rid, err))
        proc.finished.connect(lambda code, status, rid=run.id: self._on_finished(rid, code, status))
        proc.start()
        self._flush_timer.start()
        self.run_state_changed.emit(run.id, "evaluating" if kind == "eval" else "running")

    def stop(self, run_id: int) -> None:
        """Ask the worker to stop after its current step (it saves a checkpoint); never kills (module docstring)."""
        job = self._jobs.get(run_id)
        if job is None or job.process.state() == QProcess.ProcessState.NotRunning:
            return
        job.stop_requested = True
        if job.process.state() == QProcess.ProcessState.Starting:
            job.process.waitForStarted(2000)  # exec() is under way: the stop line needs an open pipe to go into
        if job.process.state() == QProcess.ProcessState.Running:
            job.process.write(encode("stop", str(run_id)).encode())
            # QProcess writes from the event loop; when the caller blocks next (stop_all while the window closes)
            # the line must already be in the pipe. A ~70-byte write to a pipe does not wait in practice.
            job.process.waitForBytesWritten(200)
            job.process.closeWriteChannel()
        live = self._live[run_id]
        live.state = "stopping"
        live.message = (f"stopping: {live.message} is cut short…" if live.phase_progress is not None
                        else f"stopping after step {live.step + 1}… (Kill ends it at once, losing that step)")
        self.run_state_changed.emit(run_id, "stopping")

    def kill(self, run_id: int) -> None:
        job = self._jobs.get(run_id)
        if job is not None and job.process.state() != QProcess.ProcessState.NotRunning:
            job.stop_requested = True
            job.process.kill()

    def stop_all(self, wait_ms: int = 5000) -> None:
        """Stop every worker, wait up to `wait_ms` in total for them to exit, kill the rest (window closing)."""
        ids = self.running_ids()
        for rid in ids:
            self.stop(rid)
        deadline = time.monotonic() + wait_ms / 1000
        for rid in ids:
            proc = self._jobs[rid].process
            left = max(0, int((deadline - time.monotonic()) * 1000))
            if not proc.waitForFinished(left):
                proc.kill()
                proc.waitForFinished(2000)
        self.flush()

    # --- process callbacks -------------------------------------------------------------------------------------
    def _on_started(self, run_id: int) -> None:
        job = self._jobs[run_id]
        try:
            job.run_dir.mkdir(parents=True, exist_ok=True)
            (job.run_dir / PID_FILE).write_text(str(job.process.processId()))
        except OSError:
            pass  # the pid file only helps a later session; the run goes on without it

    def _on_error(self, run_id: int, error: QProcess.ProcessError) -> None:
        job = self._jobs.get(run_id)
        if job is None or error != QProcess.ProcessError.FailedToStart:
            return
        msg = f"the training worker could not start ({job.process.errorString()}): check the installation"
        self._finish(run_id, "failed", msg)

    def _on_stdout(self, run_id: int) -> None:
        job = self._jobs.get(run_id)
        if job is None:
            return
        job.buffer += bytes(job.process.readAllStandardOutput().data())
        self._parse(run_id)

    def _on_stderr(self, run_id: int) -> None:
        job = self._jobs.get(run_id)
        if job is None:
            return
        text = bytes(job.process.readAllStandardError().data()).decode("utf-8", errors="replace")
        for line in text.splitlines():
            if line.strip():
                job.stderr_tail.append(line)
                job.pending_events.append(Message("log", str(run_id), {"level": "stderr", "message": line}))

    def _parse(self, run_id: int) -> None:
        """Decode complete lines for at most _PARSE_BUDGET_S, then yield to the event loop (see module doc)."""
        job = self._jobs.get(run_id)
        if job is None:
            return
        job.parse_scheduled = False
        deadline = time.perf_counter() + _PARSE_BUDGET_S
        buf = job.buffer
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = bytes(buf[start:nl])
            start = nl + 1
            self._accept(job, line)
            if time.perf_counter() > deadline:
                break
        del buf[:start]
        if buf.find(b"\n") >= 0:
            if not job.parse_scheduled:
                job.parse_scheduled = True
                QTimer.singleShot(0, lambda rid=run_id: self._parse(rid))
        elif job.exit_code is not None:
            self._conclude(run_id)

    def _accept(self, job: _Job, line: bytes) -> None:
        if not line.strip():
            return
        try:
            msg = decode(line)
        except ProtocolError:
            job.bad_lines += 1
            return
        rid = job.run.id
        live = self._live[rid]
        if msg.type == "metric":
            step = int(msg.data.get("step", 0))
            for key, value in metric_values(msg).items():
                steps, values = job.pending_metrics.setdefault(key, ([], []))
                steps.append(step)
                values.append(value)
            vals = msg.data.get("values", {})
            live.step = max(live.step, step)
            if "loss" in vals:
                live.loss = _as_float(vals["loss"])
            if "eta_s" in vals:
                live.eta_s = _as_float(vals["eta_s"])
            return
        if msg.type == "status":
            _phase(live, msg.data)
            live.state = str(msg.data.get("state", live.state))
            live.message = str(msg.data.get("message", ""))
            live.step = int(msg.data.get("step", live.step) or live.step)
            live.total_steps = int(msg.data.get("total_steps", live.total_steps) or live.total_steps)
        elif msg.type == "ended":
            job.saw_ended = True
            live.ended = str(msg.data.get("reason", ""))
            live.error = str(msg.data.get("error", ""))
        job.pending_events.append(msg)

    def _on_finished(self, run_id: int, code: int, status: QProcess.ExitStatus) -> None:
        """The process is gone; the lines it left are parsed in budgeted passes before the run is concluded."""
        job = self._jobs.get(run_id)
        if job is None:
            return
        self._on_stderr(run_id)  # the last words on stderr name the crash
        job.buffer += bytes(job.process.readAllStandardOutput().data())
        if job.buffer and not job.buffer.endswith(b"\n"):
            job.buffer += b"\n"
        job.exit_code = code
        self._parse(run_id)

    def _conclude(self, run_id: int) -> None:
        job = self._jobs[run_id]
        live = self._live[run_id]
        if job.saw_ended:
            final, error = _status_for_reason(live.ended), live.error
        elif job.stop_requested:
            final, error = "stopped", ""
        else:
            tail = " | ".join(list(job.stderr_tail)[-3:])
            final = "crashed"
            error = f"the worker exited with code {job.exit_code} without finishing" + (f": {tail}" if tail else "")
        self._finish(run_id, final, error)

    def _finish(self, run_id: int, final: str, error: str) -> None:
        job = self._jobs.get(run_id)
        if job is None:
            return
        live = self._live[run_id]
        live.state = final
        live.error = error or live.error
        try:
            (job.run_dir / PID_FILE).unlink(missing_ok=True)
        except OSError:
            pass
        self.flush()
        if self.db.project is not None:
            # An evaluation leaves the run as it was (its worker's `ended` may have been ingested as the run's).
            status, err = (job.run.status, job.run.error) if job.kind == "eval" else (final, error)
            fut = self.db.submit(self.set_run_status, run_id, status, err)
            fut.add_done_callback(lambda f, rid=run_id: self._ingested.emit(rid, f))
        job.process.deleteLater()
        del self._jobs[run_id]
        if not self._jobs:
            self._flush_timer.stop()
        if job.kind == "eval":
            del self._live[run_id]  # the runs table shows the stored state again
            self.eval_finished.emit(run_id, final, error)
            self.run_state_changed.emit(run_id, job.run.status)
        else:
            self.run_state_changed.emit(run_id, final)

    # --- batching -------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Hand the batch gathered since the last tick to the plots and the DB (called by the flush timer)."""
        import numpy as np

        for rid, job in list(self._jobs.items()):
            if job.pending_metrics:
                batch = {k: (np.asarray(s, dtype=np.int64), np.asarray(v, dtype=float))
                         for k, (s, v) in job.pending_metrics.items()}
                job.pending_metrics = {}
                store = self.series(rid)
                for key, (steps, values) in batch.items():
                    store.series(key).append_many(steps, values)
                self.metrics.emit(rid, batch)
            events, job.pending_events = job.pending_events, []
            for msg in events:
                self.event.emit(rid, msg)
            if self.db.project is not None and (job.run_dir / EVENTS_FILE).exists():
                self._ingest_file(rid, job.run_dir / EVENTS_FILE, any(m.type == "eval" for m in events))

    def _ingest_file(self, run_id: int, path: Path, with_evals: bool = False) -> None:
        fut = self.db.submit(self.ingest_events_file, run_id, path)
        fut.add_done_callback(lambda f, rid=run_id, ev=with_evals: self._ingested.emit(rid, (f, ev)))

    def _on_ingested(self, run_id: int, payload: Any) -> None:
        """Back on the GUI thread after a DB write: report failures in the run's log; announce new evaluations
        (once they are stored, so the Trade-offs panel reads them)."""
        future, with_evals = payload if isinstance(payload, tuple) else (payload, False)
        exc = future.exception()
        if exc is not None:
            msg = Message("log", str(run_id), {"level": "error", "message": f"could not store events: {exc}"})
            self.event.emit(run_id, msg)
            return
        if with_evals:
            self.evaluations_ingested.emit(run_id)


def _phase(live: LiveInfo, data: dict[str, Any]) -> None:
    """Track a non-training phase's progress and ETA (elapsed · (1 − p) / p) from its status events."""
    state = str(data.get("state", live.state))
    progress = _as_float(data.get("progress"))
    if state == "training" or progress is None:
        live.phase_progress = None
        return
    now = time.monotonic()
    if live.phase_progress is None or state != live.state or progress < live.phase_progress:
        live.phase_started, live.eta_s = now, None  # a new phase: its clock starts now
    live.phase_progress = min(1.0, max(0.0, progress))
    elapsed = now - live.phase_started
    if 0.0 < live.phase_progress and elapsed > 0.0:
        live.eta_s = elapsed * (1.0 - live.phase_progress) / live.phase_progress


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _status_for_reason(reason: str) -> str:
    return reason if reason in ("finished", "stopped", "failed", "crashed") else "crashed"
