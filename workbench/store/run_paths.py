"""Where a run folder is, wherever the project goes (issue #12).

`run.run_dir` is stored relative to the folder holding the project file when the run folder is inside it (the
default: `<project>-runs/` next to the file), so a project moved or copied together with its runs still finds
them, and `workbench eval` works from any working directory. A run folder outside the project's folder (`--runs-dir`
elsewhere) is stored as an absolute path. Rows written before schema 0003 held paths relative to the directory the
command ran from; migration 0003 rewrites them (`legacy_to_stored`).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from sqlalchemy.orm import Session


def project_folder(s: Session) -> Path | None:
    """The folder holding the project file of this session (None for an in-memory database)."""
    database = s.get_bind().url.database
    if not database or database == ":memory:":
        return None
    return absolute(database).parent


def absolute(path: str | Path) -> Path:
    """An absolute, normalised path without resolving symlinks (a temp folder under /tmp -> /private/tmp on macOS
    must keep the name it was given)."""
    return Path(os.path.abspath(path))


def to_stored(folder: Path | None, run_dir: str | Path) -> str:
    """How a run folder is written in the store: relative (POSIX separators) inside `folder`, else absolute."""
    path = absolute(run_dir)
    if folder is not None:
        try:
            return path.relative_to(absolute(folder)).as_posix()
        except ValueError:
            pass
    return str(path)


def resolve(folder: Path | None, stored: str) -> Path:
    """The run folder a stored path names (absolute when the project's folder is known)."""
    path = Path(stored)
    if path.is_absolute() or folder is None or not stored:
        return path
    return folder / Path(*PurePosixPath(stored).parts)


def legacy_to_stored(folder: Path, stored: str, cwd: Path) -> str:
    """A pre-0003 run_dir in the new form. A relative one was relative to the directory the command ran from,
    which is unknown now: the first existing of cwd/path and folder/path wins, else folder/path is assumed
    (what the GUI always assumed)."""
    path = Path(stored)
    if not stored:
        return stored
    if not path.is_absolute():
        candidates = [cwd / path, folder / path]
        path = next((c for c in candidates if c.is_dir()), folder / path)
    return to_stored(folder, path)
