"""Showing errors to people: what happened and what to do, with the traceback only under "Show Details…".

`WorkbenchError` messages are written for users and shown as they are. Anything else is a bug: the dialog says
so in one line and keeps the traceback in the details for a bug report.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable
from typing import Any, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from workbench.core.errors import WorkbenchError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Tests replace this with a recorder so that no modal box blocks them.
_shown: list[tuple[str, str, str]] = []


def user_message(exc: BaseException | str) -> str:
    """One readable line for `exc`: its own text for WorkbenchError, a 'this is a bug' line otherwise."""
    if isinstance(exc, str):
        return exc
    if isinstance(exc, WorkbenchError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}: check the path and its permissions, then try again"
    text = str(exc) or type(exc).__name__
    return f"Unexpected error: {text}. This is a bug; please report it with the details below."


def show_error(parent: QWidget | None, title: str, exc_or_message: BaseException | str, *,
               details: str | None = None) -> QMessageBox:
    """Show a non-blocking warning box (open(), not exec(): safe inside qasync slots, qasync #59)."""
    text = user_message(exc_or_message)
    if details is None and isinstance(exc_or_message, BaseException) and not isinstance(exc_or_message, WorkbenchError):
        details = "".join(traceback.format_exception(exc_or_message))
    _shown.append((title, text, details or ""))
    log.warning("%s: %s", title, text)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(text)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.open()
    return box


def shown_errors() -> list[tuple[str, str, str]]:
    """(title, text, details) of every error shown so far in this process (for tests)."""
    return list(_shown)


async def _guard(coro: Awaitable[T], parent: QWidget | None, title: str) -> T | None:
    try:
        return await coro
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - everything reaching the user goes through show_error
        show_error(parent, title, exc)
        return None


def run_task(coro: Awaitable[Any], parent: QWidget | None = None, title: str = "Something went wrong"
             ) -> asyncio.Task | None:
    """Schedule `coro` on the running (qasync) loop; its errors are reported with show_error, never lost.

    Returns the task (keep it if you want to await or cancel it). Without a running loop (a plain Qt event loop,
    as in some tests) the coroutine is driven to completion on a private loop instead.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        task = loop.create_task(_guard(coro, parent, title))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        return task
    asyncio.run(_guard(coro, parent, title))
    return None


_tasks: set[asyncio.Task] = set()  # strong references: a task nobody holds may be garbage-collected mid-flight
