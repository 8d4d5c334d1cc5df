"""What can be wrong with a project file before SQLite or Alembic get to say it in their own words (issue #12).

Each check turns one way a received or moved file can be unusable into one line that says what is wrong and what
to do: compressed, read-only (the file or its folder: WAL mode writes `-wal`/`-shm` files next to it), damaged
(SQLite's `quick_check` on open; the message names the newest backup), busy (another program holds the write
lock past the busy timeout). `describe_sqlite_error` maps SQLite's own error text to the same lines, for errors
that only show up later (the CLI's top level and the GUI use it).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

from workbench.core.errors import ProjectError

SQLITE_MAGIC = b"SQLite format 3\x00"
COMPRESSED = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz",
              b"(\xb5/\xfd": "zstd", b"7z\xbc\xaf\x27\x1c": "7-Zip"}
BUSY_TIMEOUT_S = 30.0  # a writer waits this long for another one (an import, the GUI labelling) to commit


def check_header(path: Path) -> None:
    """ProjectError unless `path` starts like a SQLite file; a compressed file is named as such."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise ProjectError(f"{path} cannot be read ({exc.strerror}): check the file's permissions") from None
    if head == SQLITE_MAGIC:
        return
    for magic, kind in COMPRESSED.items():
        if head.startswith(magic):
            raise ProjectError(f"{path} is a compressed ({kind}) file, not a project: extract it first and open "
                               "the .sqlite file inside")
    raise ProjectError(f"{path} is not an Alignment Workbench project (not a SQLite file)")


def check_writable(path: Path) -> None:
    """ProjectError when the file or its folder cannot be written (projects are opened for writing)."""
    if not os.access(path, os.W_OK):
        raise ProjectError(f"{path} is read-only: copy it to a folder you can write to, or make the file "
                           "writable, and open it again")
    if not os.access(path.parent, os.W_OK):
        raise ProjectError(f"the folder {path.parent} is read-only, and a project needs to write its journal "
                           "files next to it: copy the project to a folder you can write to")


def latest_backup(path: Path) -> Path | None:
    """The newest `<name>.bak-*` copy (written before each schema upgrade), or None."""
    found = [p for p in path.parent.glob(f"{path.name}.bak-*") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def damaged_message(path: Path, detail: str) -> str:
    backup = latest_backup(path)
    if backup is None:
        offer = "no backup of it was found; restore it from your own backups"
    else:
        when = datetime.fromtimestamp(backup.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        offer = f"the last backup is {backup} (from {when}): copy it over the project to go back to it"
    return f"{path} is damaged ({detail}); {offer}"


def describe_sqlite_error(exc: BaseException, path: str | Path | None) -> str | None:
    """One line for a SQLite error seen while using the project at `path` (None when it is not one we know)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    where = str(path) if path else "the project"
    if "locked" in text or "busy" in text:
        return (f"{where} is busy: another program (an import, a training command or the application) is writing "
                f"to it; wait for it to finish and try again")
    if "readonly" in text or "read-only" in text:
        return f"{where} is read-only: copy it to a folder you can write to, or make it writable, and try again"
    if "malformed" in text or "not a database" in text or "disk i/o error" in text:
        return damaged_message(Path(where), str(getattr(exc, "orig", None) or exc)) if path else \
            f"the project is damaged ({text})"
    if "database or disk is full" in text:
        return f"the disk holding {where} is full: free some space and try again"
    if "unable to open database" in text:
        return f"{where} cannot be opened: check that it and its folder exist and are writable"
    return None


def read_revision(path: Path) -> str | None:
    """The Alembic revision of a project file after a `quick_check`; never leaves `-wal`/`-shm` files behind.

    A file with no `-wal` beside it has every commit in the main file, so it is read as immutable (SQLite then
    creates no side files); otherwise another program may have it open and the side files are already there."""
    wal = path.with_name(path.name + "-wal")
    uri = f"file:{path}?mode=ro" + ("" if wal.exists() else "&immutable=1")
    try:
        con = sqlite3.connect(uri, uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "alembic_version" not in tables or "pair" not in tables:
                raise ProjectError(f"{path} is a SQLite file but not an Alignment Workbench project")
            problems = [r[0] for r in con.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                found = " ".join(" ".join(problems).replace("*** in database main ***", "").split())
                raise ProjectError(damaged_message(path, found))
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise ProjectError(describe_sqlite_error(exc, path) or f"{path} cannot be read ({exc})") from None
    return None if row is None else str(row[0])
