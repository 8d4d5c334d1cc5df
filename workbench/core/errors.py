"""Errors meant for people: each carries a one-line message that says what went wrong and what to do."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base of all errors whose message is shown to the user as is (no traceback)."""


class InputError(WorkbenchError):
    """Bad input in a file the user gave us: carries the file and the 1-based line number."""

    def __init__(self, message: str, *, path: str = "", line: int = 0) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")


class ProjectError(WorkbenchError):
    """A project file that cannot be opened or used (newer schema, not a project, locked, ...)."""


class RunError(WorkbenchError):
    """A training or inference run that cannot start or continue."""
