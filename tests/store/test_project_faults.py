"""Project files that cannot be used as they are (issue #12): damaged, read-only, compressed, busy, newer. Each gets
one clear line, and nothing in the file changes or is lost."""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.store.helpers import make_pairs
from workbench.core.errors import ProjectError
from workbench.store import db as db_module
from workbench.store.annotators import get_or_create_annotator, list_annotators
from workbench.store.db import create_project, open_project
from workbench.store.file_checks import describe_sqlite_error
from workbench.store.objectives import get_or_create_objective, list_objectives

root_only = pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                               reason="root writes read-only files anyway")


def _project_with_pairs(path: Path, n: int = 300) -> Path:
    project = create_project(path)
    with project.session() as s:
        make_pairs(s, n)
    project.close()
    return path


def _damage(path: Path, page: int) -> None:
    """Overwrite one b-tree page (SQLite's default page size is 4096 bytes) with junk."""
    with open(path, "r+b") as fh:
        fh.seek(4096 * (page - 1))
        fh.write(b"\x0d\xff\xff\x00" + b"\xa5" * 4092)


def test_damaged_pages_are_reported_as_damaged_with_the_backup(tmp_path: Path) -> None:
    path = _project_with_pairs(tmp_path / "p.sqlite")
    backup = tmp_path / "p.sqlite.bak-0001"
    shutil.copy(path, backup)
    pages = path.stat().st_size // 4096
    _damage(path, pages // 2)
    before = path.read_bytes()
    with pytest.raises(ProjectError) as info:
        open_project(path)
    message = str(info.value)
    assert message.startswith(f"{path} is damaged (") and "\n" not in message
    assert f"the last backup is {backup}" in message
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()


def test_damaged_without_backup_says_so(tmp_path: Path) -> None:
    path = _project_with_pairs(tmp_path / "p.sqlite")
    _damage(path, 3)
    with pytest.raises(ProjectError, match="is damaged .*no backup of it was found"):
        open_project(path)


def test_compressed_project_is_named_compressed(tmp_path: Path) -> None:
    path = _project_with_pairs(tmp_path / "p.sqlite", n=3)
    packed = tmp_path / "p.sqlite.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(ProjectError, match=r"is a compressed \(gzip\) file, not a project: extract it first"):
        open_project(packed)


@root_only
def test_read_only_file_is_named_read_only(tmp_path: Path) -> None:
    path = _project_with_pairs(tmp_path / "p.sqlite", n=3)
    path.chmod(0o444)
    try:
        with pytest.raises(ProjectError, match=r"p.sqlite is read-only: copy it to a folder you can write to"):
            open_project(path)
    finally:
        path.chmod(0o644)


@root_only
def test_read_only_folder_is_named_read_only(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = _project_with_pairs(folder / "p.sqlite", n=3)
    folder.chmod(0o555)
    try:
        with pytest.raises(ProjectError, match=r"the folder .*ro is read-only"):
            open_project(path)
        assert not Path(f"{path}-wal").exists()
    finally:
        folder.chmod(0o755)


def test_read_only_checks_use_os_access(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rule as the two tests above, for runs as root (where chmod does not stop writes)."""
    path = _project_with_pairs(tmp_path / "p.sqlite", n=3)
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != path)
    with pytest.raises(ProjectError, match="p.sqlite is read-only"):
        open_project(path)


def test_newer_schema_refusal_leaves_no_side_files(tmp_path: Path) -> None:
    path = _project_with_pairs(tmp_path / "p.sqlite", n=3)
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = '0099'")
    con.commit()
    con.close()
    assert not Path(f"{path}-wal").exists()
    before = path.read_bytes()
    with pytest.raises(ProjectError, match="newer version"):
        open_project(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.sqlite"]


def test_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    """A writer holding the lock for 0.5 s (an import's transaction): the other one waits and then commits."""
    path = _project_with_pairs(tmp_path / "p.sqlite", n=3)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO annotator (name) VALUES ('first')")
    threading.Timer(0.5, lambda: holder.execute("COMMIT")).start()
    project = open_project(path)
    try:
        start = time.perf_counter()
        with project.session() as s:
            get_or_create_annotator(s, "second")
        waited = time.perf_counter() - start
        with project.session() as s:
            names = {a.name for a in list_annotators(s)}
    finally:
        project.close()
        holder.close()
    assert names >= {"first", "second"}
    assert waited >= 0.3  # it waited for the lock instead of failing


@pytest.mark.parametrize("create", [get_or_create_annotator, get_or_create_objective])
def test_check_then_insert_race_is_not_an_integrity_error(tmp_path: Path, create) -> None:
    """Writer A inserts 'alice' and holds its transaction; writer B has already looked and found no 'alice'. B's
    insert waits for A's commit, then must find A's row instead of hitting the unique constraint."""
    path = _project_with_pairs(tmp_path / "p.sqlite", n=1)
    a, b = open_project(path), open_project(path)
    lister = list_annotators if create is get_or_create_annotator else list_objectives
    try:
        with b.session() as sb:
            assert "alice" not in {x.name for x in lister(sb)}  # B looked first
            ready = threading.Event()

            def writer_a() -> None:
                with a.session() as sa:
                    create(sa, "alice")
                    ready.set()
                    time.sleep(0.4)

            thread = threading.Thread(target=writer_a)
            thread.start()
            ready.wait(5)
            made = create(sb, "alice")  # waits for A's commit; without insert-or-ignore: IntegrityError
        thread.join()
        with a.session() as s:
            rows = [x for x in lister(s) if x.name == "alice"]
    finally:
        a.close()
        b.close()
    assert len(rows) == 1 and made.id == rows[0].id


def test_busy_project_is_one_line_in_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from workbench.__main__ import main

    path = _project_with_pairs(tmp_path / "p.sqlite", n=1)
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\n', encoding="utf-8")
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setenv("WORKBENCH_LOG_DIR", str(tmp_path / "logs"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code = main(["import", str(path), str(data), "--objective", "helpful"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"workbench import: {path} is busy: another program")
    log = Path(err.rsplit("(details: ", 1)[1].rstrip(")"))
    assert log.parent == tmp_path / "logs" and "OperationalError" in log.read_text()
    project = open_project(path)  # nothing was half-written
    try:
        with project.session() as s:
            assert [o.name for o in list_objectives(s)] == []
    finally:
        project.close()


@pytest.mark.parametrize(("text", "expected"), [
    ("database is locked", "is busy"), ("attempt to write a readonly database", "is read-only"),
    ("database disk image is malformed", "is damaged"), ("database or disk is full", "is full"),
])
def test_sqlite_error_lines(tmp_path: Path, text: str, expected: str) -> None:
    line = describe_sqlite_error(sqlite3.OperationalError(text), tmp_path / "p.sqlite")
    assert line is not None and expected in line and str(tmp_path / "p.sqlite") in line
