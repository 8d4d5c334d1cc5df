"""Run folders relative to the project file (issue #12).

`run.run_dir` was stored as given when the run was created, often relative to the directory the command ran from,
so a moved project or a command run elsewhere could not find its runs. From this revision it is relative to the
folder holding the project file (absolute only for run folders outside that folder); see store/run_paths.py.
The schema does not change: existing rows are rewritten.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

from workbench.store.run_paths import absolute, legacy_to_stored, resolve

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _folder() -> Path | None:
    database = op.get_bind().engine.url.database
    return absolute(database).parent if database and database != ":memory:" else None


def _rewrite(convert) -> None:
    bind = op.get_bind()
    for run_id, run_dir in bind.execute(sa.text("SELECT id, run_dir FROM run")).all():
        new = convert(run_dir or "")
        if new != run_dir:
            bind.execute(sa.text("UPDATE run SET run_dir = :d WHERE id = :i"), {"d": new, "i": run_id})


def upgrade() -> None:
    folder = _folder()
    if folder is not None:
        _rewrite(lambda d: legacy_to_stored(folder, d, Path.cwd()))


def downgrade() -> None:
    folder = _folder()
    if folder is not None:
        _rewrite(lambda d: str(resolve(folder, d)) if d else d)
