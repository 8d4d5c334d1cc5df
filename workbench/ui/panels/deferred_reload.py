"""DeferredReload: a panel mixin that coalesces reload requests into one reload on the next event-loop turn."""

from __future__ import annotations

from PySide6.QtCore import QTimer


class DeferredReload:
    """Mixed into panels that define `reload()`; notifications arriving in a burst cause one reload."""

    _reload_queued = False

    def _later_reload(self) -> None:
        """Reload from the event loop, not inside the task that notified (it may be finishing)."""
        if not self._reload_queued:
            self._reload_queued = True
            QTimer.singleShot(0, self._queued_reload)

    def _queued_reload(self) -> None:
        self._reload_queued = False
        self.reload()  # type: ignore[attr-defined]
