"""Step labels (issue #17): responses split into steps, step ratings with history, reference answers of prompts.

- `step_split`: how a response is split (core.steps: line | paragraph | step_k | regex, or "imported" steps).
- `step`: the steps of a split response (index, text, character span).
- `step_label`: one annotator's PRM800K rating (+1/0/-1, NULL = cleared) of a step for an objective, never
  deleted: `superseded_at IS NULL` marks the active row, as for pair labels.
- `prompt_answer`: a prompt's known final answer (answer checking, automatic labels).
Only new tables: no existing row changes.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE = sa.text("superseded_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "step_split", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("response_id", sa.Integer(), sa.ForeignKey("response.id", ondelete="CASCADE"), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("response_id", name="uq_step_split_response"),
        sa.CheckConstraint("mode IN ('line', 'paragraph', 'step_k', 'regex', 'imported')", name="ck_step_split_mode"))
    op.create_table(
        "step", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("response_id", sa.Integer(), sa.ForeignKey("response.id", ondelete="CASCADE"), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("start_char", sa.Integer(), nullable=False),
        sa.Column("end_char", sa.Integer(), nullable=False),
        sa.UniqueConstraint("response_id", "idx", name="uq_step_response_idx"))
    op.create_table(
        "step_label", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("step_id", sa.Integer(), sa.ForeignKey("step.id", ondelete="CASCADE"), nullable=False),
        sa.Column("objective_id", sa.Integer(), sa.ForeignKey("objective.id", ondelete="CASCADE"), nullable=False),
        sa.Column("annotator_id", sa.Integer(), sa.ForeignKey("annotator.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("first_error", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("superseded_at", sa.DateTime(), nullable=True),
        sa.Column("replaces_id", sa.Integer(), sa.ForeignKey("step_label.id"), nullable=True),
        sa.CheckConstraint("rating IS NULL OR rating IN (-1, 0, 1)", name="ck_step_label_rating"))
    op.create_index("ix_step_label_step", "step_label", ["step_id"])
    op.create_index("uq_step_label_active", "step_label", ["annotator_id", "step_id", "objective_id"], unique=True,
                    sqlite_where=ACTIVE)
    op.create_index("ix_step_label_objective_active", "step_label", ["objective_id", "step_id"], sqlite_where=ACTIVE)
    op.create_table(
        "prompt_answer",
        sa.Column("prompt_id", sa.Integer(), sa.ForeignKey("prompt.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False))


def downgrade() -> None:
    op.drop_table("prompt_answer")
    op.drop_index("ix_step_label_objective_active", "step_label")
    op.drop_index("uq_step_label_active", "step_label")
    op.drop_index("ix_step_label_step", "step_label")
    op.drop_table("step_label")
    op.drop_table("step")
    op.drop_table("step_split")
