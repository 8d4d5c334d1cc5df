"""A run's log: the worker's log/status/checkpoint/eval/ended events as readable lines, newest at the bottom."""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from workbench.core.protocol import Message, ProtocolError, decode, metric_values

MAX_LINES = 5000


def format_event(msg: Message) -> str | None:
    """One log line for an event (None for events that do not belong in a log: metrics, tokens)."""
    stamp = time.strftime("%H:%M:%S", time.localtime(msg.time)) if msg.time else "--:--:--"
    d = msg.data
    if msg.type == "log":
        return f"{stamp} {str(d.get('level', 'info')).upper():7} {d.get('message', '')}"
    if msg.type == "status":
        prog = d.get("progress")
        pct = f" {float(prog):.0%}" if isinstance(prog, (int, float)) else ""
        return f"{stamp} STATUS  {d.get('state', '')}{pct} {d.get('message', '')}".rstrip()
    if msg.type == "checkpoint":
        return f"{stamp} SAVED   step {d.get('step')} → {d.get('path')}"
    if msg.type == "eval":
        vals = ", ".join(f"{k}={v:.4g}" for k, v in metric_values(msg).items())
        return f"{stamp} EVAL    step {d.get('step')}: {vals}"
    if msg.type == "ended":
        err = f": {d.get('error')}" if d.get("error") else ""
        return f"{stamp} ENDED   {d.get('reason')} at step {d.get('step', '?')}{err}"
    return None


def read_log_lines(events_path: Path, limit: int = MAX_LINES) -> list[str]:
    """The log lines of a run's events.jsonl (for runs not attached to this session; runs on the DB thread)."""
    lines: deque[str] = deque(maxlen=limit)
    try:
        with open(events_path, "rb") as fh:
            for raw in fh:
                try:
                    msg = decode(raw)
                except (ProtocolError, json.JSONDecodeError):
                    continue
                line = format_event(msg)
                if line:
                    lines.append(line)
    except OSError:
        return []
    return list(lines)


class LogView(QPlainTextEdit):
    """Read-only, bounded (MAX_LINES blocks) so a chatty worker cannot grow memory without limit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("log")
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setPlaceholderText("Select a run to see its log.")
        self._follow = True
        self.verticalScrollBar().rangeChanged.connect(self._on_range)
        self.verticalScrollBar().actionTriggered.connect(self._on_user_scroll)

    def set_lines(self, lines: list[str]) -> None:
        self.setPlainText("\n".join(lines))
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def append_line(self, line: str) -> None:
        self.appendPlainText(line)

    # The view follows new lines while it is at the bottom; a reader who scrolled up keeps their place. Tracked as a
    # flag that only the reader's own scrolling (wheel, bar, keys on the bar) changes, not read off the scroll bar
    # when a line arrives: a view filled while hidden (another tab) is laid out again when shown, and Qt moves its
    # bar back to the top then (issue #13).
    def _on_range(self, _min: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def _on_user_scroll(self, _action: int) -> None:
        bar = self.verticalScrollBar()  # sliderPosition already holds where the action goes; value does not yet
        self._follow = bar.sliderPosition() >= bar.maximum() - 2

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        QTimer.singleShot(0, self._to_end_if_following)

    def _to_end_if_following(self) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
