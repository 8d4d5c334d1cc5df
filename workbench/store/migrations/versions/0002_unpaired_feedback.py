"""KTO-style unpaired feedback, the byte offset of a run's ingested events, and the side a label was shown on.

- `unpaired_feedback`: one desirable/undesirable judgement of a single response (KTO, Ethayarajh et al. 2024).
- `run.events_offset`: ingestion resumes where it stopped, so a restarted GUI never ingests an event twice.
- `label.shown_swapped`: True when response B was on the left, so position bias can be measured.
- `ix_label_annotator_recent`: an annotator's latest active labels without scanning all of them (queue.py).
Existing rows keep their data: the new columns get server defaults (0 / false).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unpaired_feedback", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("response_id", sa.Integer(), sa.ForeignKey("response.id", ondelete="CASCADE"), nullable=False),
        sa.Column("objective_id", sa.Integer(), sa.ForeignKey("objective.id", ondelete="CASCADE"), nullable=False),
        sa.Column("annotator_id", sa.Integer(), sa.ForeignKey("annotator.id", ondelete="CASCADE"), nullable=False),
        sa.Column("desirable", sa.Boolean(), nullable=False), sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("response_id", "objective_id", "annotator_id", name="uq_unpaired_feedback"))
    op.add_column("run", sa.Column("events_offset", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("label", sa.Column("shown_swapped", sa.Boolean(), nullable=False, server_default="0"))
    op.create_index("ix_label_annotator_recent", "label", ["annotator_id"],
                    sqlite_where=sa.text("superseded_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_label_annotator_recent", "label")
    with op.batch_alter_table("label") as batch:
        batch.drop_column("shown_swapped")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("events_offset")
    op.drop_table("unpaired_feedback")
