"""The CLI's last line of defence (issue #12): an error no command turned into a message becomes one line that names
the file and what to do, and the traceback goes to a log file whose path the line ends with. Never a traceback on
the terminal: the users include people who do not read them."""

from __future__ import annotations

import os
import sqlite3
import time
import traceback
from pathlib import Path

LOG_DIR_ENV = "WORKBENCH_LOG_DIR"  # tests and portable installs: where crash logs go


def log_dir() -> Path:
    given = os.environ.get(LOG_DIR_ENV)
    if given:
        return Path(given)
    from platformdirs import user_log_path

    return user_log_path("alignment-workbench", appauthor=False)


def write_log(exc: BaseException, argv: list[str]) -> Path | None:
    """Write the traceback to a new file in log_dir(); None when even that fails (the line is still printed)."""
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"workbench-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        text = f"workbench {' '.join(argv)}\n\n" + "".join(traceback.format_exception(exc))
        path.write_text(text, encoding="utf-8")
        return path
    except OSError:
        return None


def one_line(exc: BaseException, project: str | None) -> str:
    """What went wrong and what to do, naming the file involved."""
    from workbench.store.file_checks import describe_sqlite_error

    if _is_database_error(exc):
        known = describe_sqlite_error(exc, project)
        if known:
            return known
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return f"{project or 'the project'} could not be used ({detail}); check the file and try again"
    if isinstance(exc, OSError):
        where = exc.filename or project or "a file"
        if exc.errno is not None and exc.strerror:
            return f"{where}: {exc.strerror}: check the path, its permissions and the free disk space, then try again"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"unexpected error ({type(exc).__name__}: {text}); this is a bug, please report it with the log file"


def _is_database_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return False
    return isinstance(exc, SQLAlchemyError)


def report(exc: BaseException, project: str | None, argv: list[str]) -> str:
    """The line to print for `exc` (with the log file's path when it could be written)."""
    line = one_line(exc, project)
    log = write_log(exc, argv)
    return f"{line} (details: {log})" if log is not None else line
