"""What the pair and step labelling sessions share (services/label_session.py, step_label_session.py): store calls
submitted to the DB thread whose results come back on the Qt thread, and the labelling speed."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from workbench.services.db_executor import DbExecutor


class _Bridge(QObject):
    """Carries a finished DB future back to the Qt thread (a queued signal: emitted on the DB thread)."""

    done = Signal(object, object)


class DbSession(QObject):
    """Base of a labelling session: `_submit` runs fn(session, *args) on the DB thread, then `then(future)` on the Qt
    thread; `labelled` counts durable labels for `labels_per_hour`."""

    def __init__(self, db: DbExecutor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.labelled = 0
        self.started_at = time.monotonic()
        self._bridge = _Bridge(self)
        self._bridge.done.connect(lambda cb, fut: cb(fut))

    def _submit(self, fn: Callable[..., Any], *args: Any, then: Callable[[concurrent.futures.Future], None]
                ) -> concurrent.futures.Future:
        future = self.db.submit(fn, *args)
        future.add_done_callback(lambda f: self._bridge.done.emit(then, f))
        return future

    def labels_per_hour(self) -> float | None:
        """Labels per hour since the session started; None during the first minute (too noisy to show)."""
        seconds = time.monotonic() - self.started_at
        return self.labelled * 3600.0 / seconds if seconds >= 60 else None
