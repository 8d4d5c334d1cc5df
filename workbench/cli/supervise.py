"""A Qt-free supervisor of one worker subprocess (DESIGN.md §2, headless side): start it, read its protocol
lines, ask it to stop, and kill it only when asked twice (or, where a caller sets one, after a grace period).

Ctrl+C in every headless command follows one rule (WorkerProcess.interrupt, as the GUI's Stop / Kill): the first
asks the worker to stop — it finishes its current step and saves a checkpoint however long that step takes (a
SmolLM2 step on a CPU can take 45 s); the second kills it at once, losing the steps since its last checkpoint.

Lines that are not protocol messages are kept as warnings (a library printing to the wrong stream must not
end a run). `ended` is what the worker says; when the process exits without saying it, `ended` is
synthesised as `crashed`. Decision: a worker killed after ignoring a stop request is also recorded as
`crashed`, not `stopped` — it wrote no final checkpoint, so steps since its last one are lost; `--resume`
continues from that last checkpoint.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from workbench.core.protocol import Message, ProtocolError, decode, encode

WORKER_LOG = "worker.log"  # in the run folder: the worker's stderr (library warnings, full tracebacks)
EVAL_LOG = "eval.log"  # the same for `workbench eval`, in the first evaluated run's folder


class WorkerProcess:
    """`log_path`: append the worker's stderr there instead of the terminal, so a failure shows its one-line message
    (from the `ended` event) and the traceback stays in the run's log (issue #12)."""

    def __init__(self, argv: Sequence[str], *, run_id: str, grace_s: float | None = None, env: dict | None = None,
                 log_path: Path | None = None) -> None:
        self.run_id, self.grace_s = run_id, grace_s
        self.log_path = log_path
        log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - the child holds it open
        try:
            self.proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                         env=env, text=True, encoding="utf-8", errors="replace", bufsize=1)
        finally:
            if log is not None:
                log.close()  # the child has its own copy of the descriptor
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.garbage: list[str] = []
        self.ended: Message | None = None
        self.killed = False
        self.stop_requested = False
        threading.Thread(target=self._pump, daemon=True, name="worker-stdout").start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def messages(self, timeout: float = 0.2) -> Iterator[list[Message]]:
        """Yield batches of decoded messages as they arrive (an empty batch every `timeout` s while quiet);
        ends when the worker's stdout closes. A synthesised `ended(crashed)` closes a run that never ended."""
        done = False
        while not done:
            batch: list[Message] = []
            try:
                item = self.lines.get(timeout=timeout)
                while True:
                    if item is None:
                        done = True
                        break
                    self._decode(item, batch)
                    item = self.lines.get_nowait()
            except queue.Empty:
                pass
            if done:
                code = self.proc.wait()
                if self.ended is None:
                    batch.append(self._crashed(code))
            yield batch

    def _decode(self, line: str, batch: list[Message]) -> None:
        try:
            msg = decode(line)
        except ProtocolError as exc:
            text = line.strip()
            if text:
                self.garbage.append(text)
                batch.append(Message("log", self.run_id, {"level": "warning",
                                                          "message": f"worker printed a non-protocol line ({exc}): {text[:200]}"}))
            return
        if msg.type == "ended":
            self.ended = msg
        batch.append(msg)

    def _crashed(self, code: int) -> Message:
        why = "it was killed after ignoring the stop request" if self.killed else f"exit code {code}"
        self.ended = Message("ended", self.run_id, {
            "reason": "crashed", "step": 0,
            "error": f"the worker process ended without finishing ({why}); resume the run to continue from its "
                     f"last checkpoint"}, time=time.time())
        return self.ended

    def stop(self) -> None:
        """Cooperative stop (the worker checkpoints after its current step); with a grace period, a kill after it."""
        self.stop_requested = True
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(encode("stop", self.run_id))
            self.proc.stdin.flush()
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass
        if self.grace_s is not None:
            threading.Thread(target=self._kill_after_grace, daemon=True, name="worker-grace").start()

    def kill(self) -> None:
        """Kill the worker now (the steps since its last checkpoint are lost)."""
        self.killed = True
        self.proc.kill()

    def interrupt(self) -> str:
        """The headless Ctrl+C rule (module docstring): stop on the first, kill on the second; returns the line to
        show the user."""
        if not self.stop_requested:
            self.stop()
            return ("stopping: the worker finishes its current step and saves a checkpoint (Ctrl+C again kills it "
                    "and loses that step)")
        if self.proc.poll() is None and not self.killed:
            self.kill()
            return "killed: the steps since the last checkpoint are lost; --resume continues from that checkpoint"
        return "already stopping"

    def _kill_after_grace(self) -> None:
        try:
            self.proc.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
