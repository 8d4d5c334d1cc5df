"""InferenceClient: the GUI's handle on one long-lived inference worker process (DESIGN.md §2).

`[python, -m, workbench, worker, infer]` speaks the same JSON-lines protocol as the training worker
(workbench.core.protocol): commands on stdin (load, generate, set_weights, cancel, quit), events on stdout
(status, log, token, result, ended). Model work never runs in the GUI process, so a CUDA fault or an OOM ends the
worker, not the window.

Conventions this client relies on (the Models panel starts it, the Trade-offs panel steers it):
- `load` carries the model description (RunConfig-style keys: model, gguf_file, revision, trust_remote_code, dtype,
  device, and optionally adapter = a run or checkpoint folder, or soup_adapters = {objective: folder}) and is
  answered by `result` with request "load" whose data may list `objectives` (MAH-DPO heads or soup adapters):
  those are what the steering sliders mix. The full protocol is in workbench/inference/worker.py.
- `generate` carries {request, prompt, ...sampling settings}; the worker streams `token` {request, text} and
  finishes with `result` {request, data: {text, ...}} — or {request, data: {error, text: ""}} when the request
  could not run (bad setting, prompt longer than the context, out of memory): the worker keeps serving.
- `generate` with a `guide` {mode: prm_steps | best_of_n, checkpoint, k | n} is reward-guided decoding: each
  kept step's `token` also carries {step, score} (re-emitted on `step`), the result adds steps or candidates.
- `set_weights` carries {weights: {objective: w}} (the worker checks and normalises them: core.weights).
- A worker that cannot serve (no inference backend in this build, model not loadable) says so with `ended`
  {reason: "failed", error: "<what to do>"}; a worker that cannot even start, or exits with an error status,
  is reported the same way with the last line it wrote to stderr. `ended(reason, error)` is the one signal the
  Models panel shows to people, so nothing is lost to a traceback in a console.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from workbench.core.protocol import Message, ProtocolError, decode, encode
from workbench.core.remote_code import CONSENT_ENV, consent_env


def infer_command() -> tuple[str, list[str]]:
    if getattr(sys, "frozen", False):
        return sys.executable, ["worker", "infer"]
    return sys.executable, ["-m", "workbench", "worker", "infer"]


class InferenceClient(QObject):
    """See the module docstring. `objectives` is empty until a multi-objective model has loaded."""

    token = Signal(str, str)  # request id, text piece
    step = Signal(str, object)  # request id, {step, score, text}: a step a guided generation kept (PRM search)
    result = Signal(str, object)  # request id, data dict
    event = Signal(object)  # every decoded Message (status, log, ...)
    loaded = Signal(object)  # data of the load result
    ended = Signal(str, str)  # reason, error

    def __init__(self, parent: QObject | None = None, *,
                 command: Callable[[], tuple[str, list[str]]] = infer_command) -> None:
        super().__init__(parent)
        self.command = command
        self.objectives: list[str] = []
        self.weights: dict[str, float] = {}
        self.info: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self._buffer = bytearray()
        self._stderr_tail: list[str] = []
        self._ended_sent = False
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._on_stdout)
        self.process.readyReadStandardError.connect(self._on_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)

    def start(self, model: dict[str, Any]) -> None:
        """Launch the worker and ask it to load `model`. `model["remote_code_confirmed"]` (set by the UI after
        asking, never stored) lets the worker run the repository's code when `trust_remote_code` asks for it."""
        model = dict(model)
        confirmed = bool(model.pop("remote_code_confirmed", False))
        program, args = self.command()
        self._ended_sent = False
        self._stderr_tail = []
        self.process.setProgram(program)
        self.process.setArguments(args)
        env = QProcessEnvironment.systemEnvironment()
        env.remove(CONSENT_ENV)
        for key, value in consent_env([str(model.get("model") or "")] if confirmed else []).items():
            env.insert(key, value)
        self.process.setProcessEnvironment(env)
        self.process.start()
        self.send("load", request="load", **model)

    def is_running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def send(self, type_: str, **data: Any) -> None:
        if self.is_running():
            self.process.write(encode(type_, "inference", **data).encode())

    def set_weights(self, weights: dict[str, float]) -> None:
        self.weights = dict(weights)
        self.send("set_weights", weights=self.weights)

    def generate(self, prompt: str, **settings: Any) -> str:
        """Start a generation; returns its request id (tokens arrive on `token`, the end on `result`)."""
        request = f"gen-{next(self._ids)}"
        self.send("generate", request=request, prompt=prompt, **settings)
        return request

    def cancel(self, request: str) -> None:
        self.send("cancel", request=request)

    def close(self, wait_ms: int = 3000) -> None:
        """Ask the worker to quit (stdin EOF also means stop), kill it if it lingers."""
        if not self.is_running():
            return
        self.send("quit")
        self.process.waitForBytesWritten(200)
        self.process.closeWriteChannel()
        if not self.process.waitForFinished(wait_ms):
            self.process.kill()
            self.process.waitForFinished(1000)

    # --- events ---------------------------------------------------------------------------------------------
    def _on_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, rest = bytes(self._buffer).split(b"\n")
        self._buffer = bytearray(rest)
        for line in lines:
            if line.strip():
                try:
                    self._dispatch(decode(line))
                except ProtocolError:
                    continue

    def _dispatch(self, msg: Message) -> None:
        self.event.emit(msg)
        if msg.type == "token":
            self.token.emit(str(msg.data.get("request", "")), str(msg.data.get("text", "")))
            if "step" in msg.data:
                self.step.emit(str(msg.data.get("request", "")), dict(msg.data))
        elif msg.type == "result":
            request, data = str(msg.data.get("request", "")), msg.data.get("data") or {}
            if request == "load":
                self.objectives = [str(o) for o in data.get("objectives", [])]
                self.info = dict(data)
                self.loaded.emit(data)
            self.result.emit(request, data)
        elif msg.type == "ended":
            self._ended_sent = True
            self.ended.emit(str(msg.data.get("reason", "")), str(msg.data.get("error", "")))

    def _on_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError().data()).decode("utf-8", errors="replace")
        self._stderr_tail = (self._stderr_tail + [ln.strip() for ln in text.splitlines() if ln.strip()])[-20:]

    def last_error_line(self) -> str:
        """The last thing the worker wrote to stderr (the CLI prints one readable line before exiting)."""
        self._on_stderr()
        return self._stderr_tail[-1] if self._stderr_tail else ""

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self._ended_sent:
            self._ended_sent = True
            self.ended.emit("failed", f"the inference worker could not be started ({self.process.errorString()})")

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._on_stdout()  # an `ended` line may still be buffered
        self.objectives = []
        if self._ended_sent:
            return
        self._ended_sent = True
        if code != 0 or status == QProcess.ExitStatus.CrashExit:
            detail = self.last_error_line()
            self.ended.emit("crashed", detail or f"the inference worker exited with code {code}")
        else:
            self.ended.emit("finished", "")
