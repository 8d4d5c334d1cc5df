"""Build tests/store/fixtures/project_v<rev>.sqlite: a project as schema revision <rev> wrote it, with a few rows.

Run once when a migration is added (`python -m tests.store.make_fixtures` from the repository root) and commit
the file: tests upgrade a copy of every past schema version, so a migration that loses data fails a test.
Rows are written with plain SQL because the ORM classes describe the newest schema, not 0001.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from workbench.store.db import create_project

FIXTURES = Path(__file__).resolve().parent / "fixtures"

ROWS_0001 = [
    "INSERT INTO objective (id, name, description, direction) "
    "VALUES (1, 'helpful', 'Answers the question', 'maximize')",
    "INSERT INTO annotator (id, name) VALUES (1, 'alice')",
    "INSERT INTO prompt (id, text, messages, source, text_hash) VALUES (1, 'What is 2+2?', NULL, 'v1', 'h-prompt')",
    "INSERT INTO response (id, prompt_id, text, messages, model, generation, text_hash) "
    "VALUES (1, 1, '4', NULL, 'tiny', '{}', 'h-a'), (2, 1, '5', NULL, 'tiny', '{}', 'h-b')",
    "INSERT INTO pair (id, prompt_id, response_a_id, response_b_id, source, extra, created_at, labelled_by, "
    "shuffle_key) VALUES (1, 1, 1, 2, 'v1', '{\"score\": 1.5}', '2025-01-02 03:04:05', 1, 12345)",
    "INSERT INTO label (id, pair_id, objective_id, annotator_id, choice, strength, note, created_at, superseded_at, "
    "replaces_id) VALUES (1, 1, 1, 1, 'b', 1, 'first', '2025-01-02 03:05:00', '2025-01-02 03:06:00', NULL), "
    "(2, 1, 1, 1, 'a', 3, 'second thoughts', '2025-01-02 03:06:00', NULL, 1)",
    "INSERT INTO run (id, name, config, status, run_dir, created_at, started_at, ended_at, error, last_step) "
    "VALUES (1, 'first run', '{\"beta\": 0.1}', 'finished', 'runs/1', '2025-01-03 00:00:00', "
    "'2025-01-03 00:00:01', '2025-01-03 01:00:00', '', 20)",
    "INSERT INTO metric (run_id, step, key, value) VALUES (1, 10, 'loss', 0.69), (1, 20, 'loss', 0.5)",
]


def make_v0001(path: Path) -> Path:
    """A revision-0001 project at `path` holding ROWS_0001."""
    path.unlink(missing_ok=True)
    project = create_project(path, revision="0001")
    with project.engine.begin() as con:
        for statement in ROWS_0001:
            con.execute(text(statement))
    project.close()  # the last connection closing checkpoints the WAL into the file
    return path


# 0002 (before run folders became relative to the project file): run 1 as in 0001 ('runs/1', next to the
# project), run 2 relative to the directory a CLI command ran from, run 3 an absolute folder elsewhere.
ROWS_0002 = ROWS_0001 + [
    "INSERT INTO run (id, name, config, status, run_dir, created_at, error, last_step, events_offset) "
    "VALUES (2, 'cli run', '{}', 'finished', 'work/cli-runs/0002-cli-run', '2025-01-04 00:00:00', '', 3, 120), "
    "(3, 'elsewhere', '{}', 'stopped', '/nonexistent/elsewhere/0003-run', '2025-01-05 00:00:00', '', 0, 0)",
    "INSERT INTO unpaired_feedback (id, response_id, objective_id, annotator_id, desirable, created_at) "
    "VALUES (1, 1, 1, 1, 1, '2025-01-02 03:07:00')",
]


def make_v0002(path: Path) -> Path:
    """A revision-0002 project at `path` holding ROWS_0002."""
    path.unlink(missing_ok=True)
    project = create_project(path, revision="0002")
    with project.engine.begin() as con:
        for statement in ROWS_0002:
            con.execute(text(statement))
    project.close()
    return path


def make_v0003(path: Path) -> Path:
    """A revision-0003 project at `path` holding ROWS_0002 (0003 only rewrote run folders)."""
    path.unlink(missing_ok=True)
    project = create_project(path, revision="0003")
    with project.engine.begin() as con:
        for statement in ROWS_0002:
            con.execute(text(statement))
    project.close()
    return path


# 0004 (rounds): ROWS_0002 plus one round whose pair and run point at it.
ROWS_0004 = ROWS_0002 + [
    "INSERT INTO round (id, number, settings, run_config, done, folder, created_at) "
    "VALUES (1, 1, '{}', '{}', '{\"generate\": true}', 'rounds/1', '2025-01-06 00:00:00')",
    "UPDATE pair SET round_id = 1 WHERE id = 1",
    "UPDATE run SET round_id = 1 WHERE id = 1",
]


def make_v0004(path: Path) -> Path:
    """A revision-0004 project at `path` holding ROWS_0004."""
    path.unlink(missing_ok=True)
    project = create_project(path, revision="0004")
    with project.engine.begin() as con:
        for statement in ROWS_0004:
            con.execute(text(statement))
    project.close()
    return path


if __name__ == "__main__":
    FIXTURES.mkdir(exist_ok=True)
    print(make_v0001(FIXTURES / "project_v0001.sqlite"))
    print(make_v0002(FIXTURES / "project_v0002.sqlite"))
    print(make_v0003(FIXTURES / "project_v0003.sqlite"))
    print(make_v0004(FIXTURES / "project_v0004.sqlite"))
