"""The Rounds view's non-widget side (issue #15): per-round statistics from the store, and one round step run as
`workbench round PROJECT --step S` in a child process, its progress lines parsed into fraction and ETA.

Why a child process: a step loads models (generation), trains (a worker of its own) and evaluates; the same
command the CLI user runs does it, so the GUI and headless paths are one code path (workbench.cli.round_steps).
Cancel sends SIGINT (Ctrl+C; Windows: terminate): the command asks its worker to stop, the worker checkpoints
or keeps its finished samples, and running the same step again resumes it.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, Signal

_PERCENT = re.compile(r"(\d+)%\s*$")
_OF = re.compile(r"(?:prompt|step) (\d+)/(\d+)")
_ETA = re.compile(r"eta (\d+)s")


@dataclass(frozen=True)
class RoundsData:
    """What the Rounds view shows: one RoundStats per round (workbench.store.rounds) and the objectives."""

    stats: list[Any]
    objectives: list[str]
    round_runs: list[tuple[int, int]]  # (round number, run id) in round order: the Trade-offs path


def load_rounds(s: Any) -> RoundsData:
    """DB thread: the rounds, their statistics and the project's objectives."""
    from workbench.store.objectives import list_objectives
    from workbench.store.rounds import list_rounds, round_stats

    rounds = list_rounds(s)
    stats = [round_stats(s, r) for r in rounds]
    return RoundsData(stats, [o.name for o in list_objectives(s)],
                      [(r.number, r.run_id) for r in rounds if r.run_id is not None])


def loop_choices(s: Any) -> tuple[list[str], list[str], tuple[dict, dict] | None]:
    """DB thread, for the Loop settings dialog: objective names, model locations (oldest first) and the last
    round's (run config, round settings), None before the first round."""
    from workbench.store.models import list_models
    from workbench.store.objectives import list_objectives
    from workbench.store.rounds import list_rounds

    rounds = list_rounds(s)
    last = (dict(rounds[-1].run_config), rounds[-1].settings.to_dict()) if rounds else None
    return [o.name for o in list_objectives(s)], [m.location for m in list_models(s)], last


def parse_progress(line: str) -> tuple[float | None, float | None]:
    """(fraction done, seconds left) from one progress line of `workbench round` (None where it says nothing)."""
    fraction = eta = None
    if m := _PERCENT.search(line):
        fraction = int(m.group(1)) / 100
    elif m := _OF.search(line):
        fraction = (int(m.group(1)) - 1) / max(1, int(m.group(2)))
    if m := _ETA.search(line):
        eta = float(m.group(1))
    return fraction, eta


def round_command(project: Path, step: str, config: Path | None) -> tuple[str, list[str]]:
    """The program and arguments of one round step (frozen apps re-execute themselves)."""
    args = ["round", str(project), "--step", step] + (["--config", str(config)] if config else [])
    if getattr(sys, "frozen", False):
        return sys.executable, args
    return sys.executable, ["-m", "workbench", *args]


class RoundProcess(QObject):
    """Runs one round step; emits each output line with its parsed progress, then `finished(exit code, tail)`."""

    line = Signal(str, object, object)  # text, fraction | None, eta seconds | None
    finished = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None
        self._tail: list[str] = []
        self._buffer = b""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def start(self, program: str, args: list[str]) -> None:
        if self.running:
            raise RuntimeError("a round step is already running")
        self._tail, self._buffer = [], b""
        proc = QProcess(self)
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        proc.readyReadStandardOutput.connect(self._read)
        proc.finished.connect(self._done)
        self.process = proc
        proc.start(program, args)

    def _read(self) -> None:
        assert self.process is not None
        self._buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.replace(b"\r", b"\n").split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                self._tail = (self._tail + [text])[-40:]
                fraction, eta = parse_progress(text)
                self.line.emit(text, fraction, eta)

    def _done(self, code: int, _status: Any) -> None:
        self._read()
        self.finished.emit(int(code), "\n".join(self._tail))

    def cancel(self) -> None:
        """Ctrl+C for the step (it stops its worker cooperatively); Windows has no SIGINT for a child: terminate."""
        if not self.running:
            return
        assert self.process is not None
        if os.name == "nt":
            self.process.terminate()
        else:
            os.kill(int(self.process.processId()), signal.SIGINT)
