"""Opening, creating and upgrading project files: pragmas, migrations of a past schema, refusal of newer files."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from workbench.core.errors import ProjectError
from workbench.store.db import backup_path, create_project, current_revision, head_revision, open_project
from workbench.store.labels import label_history
from workbench.store.pairs import pair_view
from workbench.store.runs import get_run, metric_series
from workbench.store.schema import Base

FIXTURE = Path(__file__).parent / "fixtures" / "project_v0001.sqlite"


def test_pragmas_on_every_connection(tmp_path: Path) -> None:
    project = create_project(tmp_path / "p.sqlite")
    try:
        for _ in range(2):  # a second, fresh connection gets them too
            with project.engine.connect() as con:
                assert con.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert con.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert con.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: labels survive power loss
            project.engine.dispose()
        with pytest.raises(Exception, match="FOREIGN KEY"), project.session() as s:
            s.execute(text("INSERT INTO response (prompt_id, text, model, generation, text_hash) "
                           "VALUES (999, 'x', '', '{}', 'h')"))
    finally:
        project.close()


def test_migrated_schema_equals_orm_metadata(tmp_path: Path) -> None:
    """The migrations and schema.py describe the same tables, columns and indexes."""
    project = create_project(tmp_path / "p.sqlite")
    with project.engine.connect() as con:
        diff = compare_metadata(MigrationContext.configure(con), Base.metadata)
    project.close()
    assert diff == []
    assert current_revision(project.engine) == head_revision() == "0005"


def test_create_refuses_existing_and_open_refuses_missing(tmp_path: Path) -> None:
    (tmp_path / "there.sqlite").write_bytes(b"")
    with pytest.raises(ProjectError, match="already exists"):
        create_project(tmp_path / "there.sqlite")
    with pytest.raises(ProjectError, match="does not exist"):
        open_project(tmp_path / "nope.sqlite")


def test_open_refuses_files_that_are_not_projects(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ProjectError, match="not an Alignment Workbench project"):
        open_project(tmp_path / "notes.txt")
    con = sqlite3.connect(tmp_path / "other.sqlite")
    con.execute("CREATE TABLE t (x)")
    con.close()
    with pytest.raises(ProjectError, match="SQLite file but not an Alignment Workbench project"):
        open_project(tmp_path / "other.sqlite")


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    create_project(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = '0099'")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(ProjectError, match=r"newer version of Alignment Workbench \(schema 0099\); update"):
        open_project(path)
    assert path.read_bytes() == before
    assert not backup_path(path, "0099").exists()


def test_v0001_fixture_upgrades_with_data_and_backup(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    shutil.copy(FIXTURE, path)
    project = open_project(path)
    try:
        assert current_revision(project.engine) == "0005"
        backup = backup_path(path, "0001")
        assert backup.exists()
        con = sqlite3.connect(backup)
        assert con.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        con.close()
        with project.session() as s:
            view = pair_view(s, 1)
            assert (view.prompt.text, view.response_a.text, view.response_b.text) == ("What is 2+2?", "4", "5")
            assert view.pair.extra == {"score": 1.5}
            history = label_history(s, 1)
            assert [(h.choice, h.strength, h.superseded, h.shown_swapped) for h in history] == [
                ("b", 1, True, False), ("a", 3, False, False)]
            assert history[1].created_at == datetime(2025, 1, 2, 3, 6, tzinfo=UTC)
            run = get_run(s, 1)
            assert (run.name, run.status, run.last_step, run.config) == ("first run", "finished", 20, {"beta": 0.1})
            assert metric_series(s, 1, "loss") == ([10, 20], [0.69, 0.5])
            assert s.execute(text("SELECT events_offset FROM run WHERE id = 1")).scalar() == 0
            assert s.execute(text("SELECT count(*) FROM unpaired_feedback")).scalar() == 0
    finally:
        project.close()
    # Opening an up-to-date file makes no further backup.
    backup_path(path, "0001").unlink()
    open_project(path).close()
    assert not backup_path(path, "0001").exists() and not backup_path(path, "0002").exists()


def test_session_commits_or_rolls_back(project) -> None:
    from workbench.store.objectives import add_objective, list_objectives

    with pytest.raises(RuntimeError), project.session() as s:
        add_objective(s, "lost")
        raise RuntimeError("boom")
    with project.session() as s:
        add_objective(s, "kept")
    with project.session() as s:
        assert [o.name for o in list_objectives(s)] == ["kept"]


def test_every_past_schema_version_has_an_upgrade_fixture() -> None:
    """Each revision before head needs tests/store/fixtures/project_v<rev>.sqlite (tests/store/make_fixtures.py),
    so adding a migration without a fixture of the schema it replaces fails here."""
    from alembic.script import ScriptDirectory

    from workbench.store.db import alembic_config

    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()]
    past = sorted(set(revisions) - {head_revision()})
    assert past, "there is at least one past schema version (0001)"
    missing = [rev for rev in past if not (FIXTURE.parent / f"project_v{rev}.sqlite").exists()]
    assert missing == []


def test_v0002_fixture_upgrades_to_rounds_without_losing_labels(tmp_path: Path) -> None:
    """0004 adds pair.round_id / run.round_id in place: the pair table is not rebuilt, so no label is cascaded
    away, and existing pairs and runs belong to no round."""
    path = tmp_path / "old.sqlite"
    shutil.copy(FIXTURE.parent / "project_v0002.sqlite", path)
    project = open_project(path)
    try:
        assert current_revision(project.engine) == "0005"
        with project.session() as s:
            assert [(h.choice, h.strength) for h in label_history(s, 1)] == [("b", 1), ("a", 3)]
            assert s.execute(text("SELECT round_id FROM pair WHERE id = 1")).scalar() is None
            assert s.execute(text("SELECT round_id FROM run WHERE id = 1")).scalar() is None
            assert s.execute(text("SELECT count(*) FROM round")).scalar() == 0
    finally:
        project.close()
