"""DbExecutor: the one background thread that owns every database call of the GUI process (DESIGN.md §6).

Why one thread: SQLite allows one writer at a time, and the UI thread must never block on disk. Funnelling every
read and write through a single worker thread serialises them (no "database is locked" between our own calls) and
keeps the event loop free. Coroutines `await ctx.db.call(fn, ...)`; the result (core entities, never ORM objects)
comes back on the event loop through `asyncio.wrap_future`, which qasync's loop supports like any asyncio loop.

Each call runs `fn(session, *args, **kw)` inside `with project.session() as s:` — one short transaction per user
action (commit on success, rollback on error), as Anki's operations do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from workbench.core.errors import ProjectError

T = TypeVar("T")


class _ProjectLike(Protocol):
    def session(self) -> Any: ...


class DbExecutor:
    """Runs database functions on one dedicated thread; see the module docstring."""

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-db")
        self._project: _ProjectLike | None = None
        self._thread_id: int | None = None
        self._lock = threading.Lock()

    # --- the project the calls run against ---------------------------------------------------------------
    @property
    def project(self) -> _ProjectLike | None:
        return self._project

    def set_project(self, project: _ProjectLike | None) -> None:
        """Point later calls at `project` (None: calls fail with ProjectError until one is opened)."""
        with self._lock:
            self._project = project

    # --- calls ----------------------------------------------------------------------------------------------
    def _run_in_session(self, fn: Callable[..., T], args: tuple, kw: dict) -> T:
        self._thread_id = threading.get_ident()
        project = self._project
        if project is None:
            raise ProjectError("no project is open: open or create a project first (File ▸ Open)")
        with project.session() as s:
            return fn(s, *args, **kw)

    def _run_plain(self, fn: Callable[..., T], args: tuple, kw: dict) -> T:
        self._thread_id = threading.get_ident()
        return fn(*args, **kw)

    def submit(self, fn: Callable[..., T], *args: Any, **kw: Any) -> concurrent.futures.Future[T]:
        """Queue `fn(session, *args, **kw)` on the DB thread; a concurrent Future of its result."""
        return self._pool.submit(self._run_in_session, fn, args, kw)

    def submit_plain(self, fn: Callable[..., T], *args: Any, **kw: Any) -> concurrent.futures.Future[T]:
        """Queue `fn(*args, **kw)` (no session) on the DB thread: opening/closing a project file."""
        return self._pool.submit(self._run_plain, fn, args, kw)

    async def call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Await `fn(session, *args, **kw)` run on the DB thread; its exceptions propagate here."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kw))

    async def call_plain(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        return await asyncio.wrap_future(self.submit_plain(fn, *args, **kw))

    def call_sync(self, fn: Callable[..., T], *args: Any, timeout: float | None = 60.0, **kw: Any) -> T:
        """Blocking variant for tests, start-up and shutdown (never from a UI slot during normal work)."""
        return self.submit(fn, *args, **kw).result(timeout=timeout)

    def call_plain_sync(self, fn: Callable[..., T], *args: Any, timeout: float | None = 60.0, **kw: Any) -> T:
        return self.submit_plain(fn, *args, **kw).result(timeout=timeout)

    def on_db_thread(self) -> bool:
        return threading.get_ident() == self._thread_id

    def shutdown(self, wait: bool = True) -> None:
        """Finish queued calls and stop the thread (the main window does this when it closes)."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
