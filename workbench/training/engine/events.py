"""EventSink: where a worker's protocol events go (DESIGN.md §2): one JSON line to the parent on the real
stdout, and the same line appended to run_dir/events.jsonl (the durable record that survives a GUI crash).
Each line is flushed as it is written, so the parent sees progress live and a crash loses at most one line."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, TextIO

from workbench.core.protocol import encode


class EventSink:
    def __init__(self, run_id: str, stream: TextIO | None, events_path: Path | None) -> None:
        self.run_id = run_id
        self.stream = stream
        self._file = open(events_path, "a", encoding="utf-8") if events_path is not None else None
        self._lock = threading.Lock()  # the stdin reader thread may log too
        self.parent_gone = False

    def emit(self, type_: str, **data: Any) -> None:
        line = encode(type_, self.run_id, **data)
        with self._lock:
            if self._file is not None:
                self._file.write(line)
                self._file.flush()
            if self.stream is not None and not self.parent_gone:
                try:
                    self.stream.write(line)
                    self.stream.flush()
                except (BrokenPipeError, OSError, ValueError):
                    self.parent_gone = True  # keep training into events.jsonl; the GUI re-ingests it later

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
