"""Create, open and upgrade a project file (DESIGN.md §4).

A project is one SQLite file in WAL mode with foreign keys on. Its schema is versioned by the Alembic migrations
shipped in `workbench/store/migrations/`; opening a file from an older version copies it to
`<name>.bak-<old revision>` and upgrades it, and a file written by a newer version is refused rather than
silently damaged. There is no alembic.ini: the Config is built here so it works from an installed package or a
frozen build alike.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from workbench import __version__ as app_version
from workbench.core.errors import ProjectError
from workbench.store.clock import utcnow
from workbench.store.schema import ProjectMeta

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_MAGIC = b"SQLite format 3\x00"


def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Every connection: WAL (readers never block the writer), FK checks, fsync only at checkpoints, and a 64 MiB
    page cache (the default 2 MiB thrashes when 100,000 random sha1 keys go into the dedup indexes)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_engine(path: Path) -> Engine:
    """An engine on `path` whose every connection gets the pragmas above."""
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _set_pragmas)
    return engine


def alembic_config(connection: Any = None) -> Config:
    """The Alembic Config for the packaged migrations, pointed at an open connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest schema revision this program knows."""
    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


class Project:
    """An open project file: `with project.session() as s:` runs one unit of work (commit or roll back)."""

    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = path
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends normally, rolled back when it raises."""
        s = self._sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def close(self) -> None:
        """Release every connection (and so the WAL file) of this project."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Project({str(self.path)!r})"


def _upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def create_project(path: str | Path, *, revision: str = "head") -> Project:
    """A new, empty project at `path` (never overwrites). `revision` exists for tests that build old files."""
    path = Path(path)
    if path.exists():
        raise ProjectError(f"{path} already exists: choose another name or open it instead")
    if not path.parent.is_dir():
        raise ProjectError(f"folder {path.parent} does not exist: create it first or choose another place")
    engine = make_engine(path)
    _upgrade(engine, revision)
    with Session(engine) as s, s.begin():
        s.add_all([ProjectMeta(key="created_at", value=utcnow().isoformat()),
                   ProjectMeta(key="created_by", value=f"Alignment Workbench {app_version}")])
    return Project(path, engine)


def file_revision(path: Path) -> str | None:
    """The schema revision stored in a project file; ProjectError when the file is not a Workbench project."""
    with open(path, "rb") as fh:
        if fh.read(16) != SQLITE_MAGIC:
            raise ProjectError(f"{path} is not an Alignment Workbench project (not a SQLite file)")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "alembic_version" not in tables or "pair" not in tables:
                raise ProjectError(f"{path} is a SQLite file but not an Alignment Workbench project")
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"{path} cannot be read ({exc}): it may be damaged or locked by another program") from None
    return None if row is None else str(row[0])


def backup_path(path: Path, revision: str) -> Path:
    return path.with_name(f"{path.name}.bak-{revision}")


def _backup(path: Path, revision: str) -> Path:
    """Copy the file (including anything still in its WAL) with SQLite's online backup before migrating."""
    target = backup_path(path, revision)
    src = sqlite3.connect(path)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target


def open_project(path: str | Path) -> Project:
    """Open an existing project, upgrading its schema (after a backup) when it comes from an older version."""
    path = Path(path)
    if not path.is_file():
        raise ProjectError(f"{path} does not exist: choose another file or create a new project")
    current = file_revision(path)
    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise ProjectError(f"{path} was written by a newer version of Alignment Workbench (schema {current}); "
                           "update the application to open it")
    engine = make_engine(path)
    if current != script.get_current_head():
        _backup(path, current or "empty")
        _upgrade(engine)
    return Project(path, engine)


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in an open project (for tests and the About dialog)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
