"""Run folders are found wherever the project goes (issue #12): stored relative to the project file, resolved
from any working directory and after a move; migration 0003 rewrites rows of older projects."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.store.test_run_prep import _labelled_project
from workbench.core.run_config import RunConfig
from workbench.store.db import backup_path, create_project, current_revision, open_project
from workbench.store.run_prep import prepare_run
from workbench.store.runs import get_run, list_runs

FIXTURE_0002 = Path(__file__).resolve().parent / "fixtures" / "project_v0002.sqlite"


def _stored(project, run_id: int) -> str:
    with project.session() as s:
        return s.execute(text("SELECT run_dir FROM run WHERE id = :i"), {"i": run_id}).scalar()


def test_run_made_from_one_folder_is_found_from_another_and_after_a_move(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    monkeypatch.chdir(home / "work")
    project = create_project(Path("../p.sqlite"))  # as a user types it: relative to where they stand
    with project.session() as s:
        _labelled_project(s)
        run = prepare_run(s, RunConfig(name="r1", eval_fraction=0.0), Path("../p-runs"))
    assert _stored(project, run.id) == f"p-runs/{run.id:04d}-r1"
    project.close()

    monkeypatch.chdir(tmp_path)  # `workbench eval` from another folder
    project = open_project(home / "p.sqlite")
    with project.session() as s:
        assert Path(get_run(s, run.id).run_dir) == home / "p-runs" / f"{run.id:04d}-r1"
    project.close()

    moved = tmp_path / "elsewhere"
    shutil.move(str(home), str(moved))  # the project and its runs, sent to someone else
    project = open_project(moved / "p.sqlite")
    with project.session() as s:
        found = Path(get_run(s, run.id).run_dir)
    project.close()
    assert found == moved / "p-runs" / f"{run.id:04d}-r1"
    assert (found / "config.json").is_file()


def test_run_folder_outside_the_project_folder_is_absolute(project, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    with project.session() as s:
        _labelled_project(s)
        run = prepare_run(s, RunConfig(name="far", eval_fraction=0.0), outside)
    assert _stored(project, run.id) == str(outside / f"{run.id:04d}-far")
    shutil.rmtree(outside)


def test_migration_0003_rewrites_run_folders(tmp_path: Path, monkeypatch) -> None:
    """Fixture rows: 'runs/1' (next to the project), 'work/cli-runs/0002-cli-run' (relative to the folder a CLI
    command ran from: here tmp/sub) and an absolute folder elsewhere."""
    path = tmp_path / "p.sqlite"
    shutil.copy(FIXTURE_0002, path)
    (tmp_path / "runs" / "1").mkdir(parents=True)
    (tmp_path / "sub" / "work" / "cli-runs" / "0002-cli-run").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "sub")
    project = open_project(path)
    try:
        assert current_revision(project.engine) == "0005"
        assert backup_path(path, "0002").exists()
        assert [_stored(project, i) for i in (1, 2)] == ["runs/1", "sub/work/cli-runs/0002-cli-run"]
        if os.name == "posix":  # the fixture's absolute path is a POSIX one
            assert _stored(project, 3) == "/nonexistent/elsewhere/0003-run"
        with project.session() as s:
            runs = {r.id: r for r in list_runs(s)}
            assert (runs[2].name, runs[2].last_step, runs[2].status) == ("cli run", 3, "finished")
            assert s.execute(text("SELECT events_offset FROM run WHERE id = 2")).scalar() == 120
            assert s.execute(text("SELECT count(*) FROM unpaired_feedback")).scalar() == 1
    finally:
        project.close()
    monkeypatch.chdir(tmp_path.parent)
    project = open_project(path)
    with project.session() as s:
        assert Path(get_run(s, 2).run_dir) == tmp_path / "sub" / "work" / "cli-runs" / "0002-cli-run"
    project.close()


@pytest.mark.parametrize("revision", ["0002"])
def test_downgrade_restores_absolute_paths(tmp_path: Path, revision: str) -> None:
    from alembic import command

    from workbench.store.db import alembic_config

    project = create_project(tmp_path / "p.sqlite")
    with project.session() as s:
        _labelled_project(s)
        run = prepare_run(s, RunConfig(name="r", eval_fraction=0.0), tmp_path / "p-runs")
    with project.engine.begin() as con:
        command.downgrade(alembic_config(con), revision)
    assert _stored(project, run.id) == str(tmp_path / "p-runs" / f"{run.id:04d}-r")
    project.close()
