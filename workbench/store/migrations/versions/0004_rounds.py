"""On-policy rounds (issue #15): the `round` table, and the round a pair was built in / a run was trained for.

- `round`: number (1, 2, ...), its settings (core.rounds.RoundSettings) and run settings (RunConfig), which steps
  are done and the folder holding its generations (its run is the one whose run.round_id points here).
- `pair.round_id`, `run.round_id`: NULL for everything made outside rounds (imports, plain runs).

The two columns are added with SQLite's own ALTER TABLE ... ADD COLUMN ... REFERENCES (allowed for a NULL default)
rather than a batch table rebuild: rebuilding `pair` would drop it, and with foreign keys on that drop would
cascade into every label.

Revision ID: 0004
Revises: 0002 (the lead re-chains it after #12's 0003 at merge)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "round", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("run_config", sa.JSON(), nullable=False),
        sa.Column("done", sa.JSON(), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("number", name="uq_round_number"))
    op.execute("ALTER TABLE pair ADD COLUMN round_id INTEGER REFERENCES round (id)")
    op.execute("ALTER TABLE run ADD COLUMN round_id INTEGER REFERENCES round (id)")
    op.create_index("ix_pair_round", "pair", ["round_id"])


def downgrade() -> None:
    op.drop_index("ix_pair_round", "pair")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("round_id")
    with op.batch_alter_table("pair") as batch:
        batch.drop_column("round_id")
    op.drop_table("round")
