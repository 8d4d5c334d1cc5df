"""Build tests/store/fixtures/project_v0001.sqlite: a project as schema revision 0001 wrote it, with a few rows.

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


def make_v0002(path: Path) -> Path:
    """A revision-0002 project at `path` holding ROWS_0001 (0002 only added columns with defaults)."""
    path.unlink(missing_ok=True)
    project = create_project(path, revision="0002")
    with project.engine.begin() as con:
        for statement in ROWS_0001:
            con.execute(text(statement))
    project.close()
    return path


if __name__ == "__main__":
    FIXTURES.mkdir(exist_ok=True)
    print(make_v0001(FIXTURES / "project_v0001.sqlite"))
    print(make_v0002(FIXTURES / "project_v0002.sqlite"))
