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
from workbench.store.file_checks import BUSY_TIMEOUT_S, check_header, check_writable, read_revision
from workbench.store.run_paths import absolute
from workbench.store.schema import ProjectMeta

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# Labels are human work: with synchronous=NORMAL in WAL mode a power loss can drop the last acknowledged commits;
# FULL fsyncs the WAL at every commit, so a label the screen has moved past survives it. Measured with
# tests/benchmarks/bench_label.py --synchronous (README, "Durability"): key -> next pair stays within its budget.
SYNCHRONOUS = "FULL"


def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Every connection: WAL (readers never block the writer), FK checks, an fsync per commit (SYNCHRONOUS), and a
    64 MiB page cache (the default 2 MiB thrashes when 100,000 random sha1 keys go into the dedup indexes)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_engine(path: Path) -> Engine:
    """An engine on `path` whose every connection gets the pragmas above."""
    # an absolute URL: run folders are found relative to the project file even after a chdir (run_paths.py)
    engine = create_engine(f"sqlite:///{absolute(path)}", connect_args={"timeout": BUSY_TIMEOUT_S})
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
    """The schema revision stored in a project file; ProjectError when the file is not a Workbench project, is
    compressed or is damaged (file_checks.py)."""
    check_header(path)
    return read_revision(path)


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
    check_header(path)
    check_writable(path)
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
