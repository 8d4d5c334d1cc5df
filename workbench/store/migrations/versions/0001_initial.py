"""Initial schema: objectives, annotators, prompts, responses, pairs, labels, models, runs, metrics, checkpoints,
evaluations (DESIGN.md §4).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ACTIVE = sa.text("superseded_at IS NULL")


def upgrade() -> None:
    op.create_table("project_meta", sa.Column("key", sa.String(64), primary_key=True),
                    sa.Column("value", sa.Text(), nullable=False))
    op.create_table(
        "objective", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.CheckConstraint("direction IN ('maximize', 'minimize')", name="ck_objective_direction"))
    op.create_table("annotator", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("name", sa.String(200), nullable=False, unique=True))
    op.create_table(
        "prompt", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("text", sa.Text(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=True), sa.Column("source", sa.String(200), nullable=False),
        sa.Column("text_hash", sa.String(40), nullable=False, unique=True))
    op.create_table(
        "response", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("prompt_id", sa.Integer(), sa.ForeignKey("prompt.id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False), sa.Column("messages", sa.JSON(), nullable=True),
        sa.Column("model", sa.String(500), nullable=False), sa.Column("generation", sa.JSON(), nullable=False),
        sa.Column("text_hash", sa.String(40), nullable=False),
        sa.UniqueConstraint("prompt_id", "text_hash", name="uq_response_prompt_hash"))
    _create_pair_and_label()
    _create_run_tables()


def _create_pair_and_label() -> None:
    op.create_table(
        "pair", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("prompt_id", sa.Integer(), sa.ForeignKey("prompt.id", ondelete="CASCADE"), nullable=False),
        sa.Column("response_a_id", sa.Integer(), sa.ForeignKey("response.id", ondelete="CASCADE"), nullable=False),
        sa.Column("response_b_id", sa.Integer(), sa.ForeignKey("response.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.String(200), nullable=False), sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("labelled_by", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("shuffle_key", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("prompt_id", "response_a_id", "response_b_id", name="uq_pair_responses"))
    op.create_index("ix_pair_queue_shuffle", "pair", ["labelled_by", "shuffle_key"])
    op.create_index("ix_pair_queue_order", "pair", ["labelled_by", "id"])
    op.create_table(
        "label", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pair_id", sa.Integer(), sa.ForeignKey("pair.id", ondelete="CASCADE"), nullable=False),
        sa.Column("objective_id", sa.Integer(), sa.ForeignKey("objective.id", ondelete="CASCADE"), nullable=False),
        sa.Column("annotator_id", sa.Integer(), sa.ForeignKey("annotator.id", ondelete="CASCADE"), nullable=False),
        sa.Column("choice", sa.String(4), nullable=False), sa.Column("strength", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False), sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("superseded_at", sa.DateTime(), nullable=True),
        sa.Column("replaces_id", sa.Integer(), sa.ForeignKey("label.id"), nullable=True),
        sa.CheckConstraint("choice IN ('a', 'b', 'tie', 'skip')", name="ck_label_choice"),
        sa.CheckConstraint("strength BETWEEN 1 AND 3", name="ck_label_strength"))
    op.create_index("ix_label_pair", "label", ["pair_id"])
    op.create_index("uq_label_active", "label", ["annotator_id", "pair_id", "objective_id"], unique=True,
                    sqlite_where=ACTIVE)
    op.create_index("ix_label_objective_active", "label", ["objective_id", "pair_id"], sqlite_where=ACTIVE)


def _create_run_tables() -> None:
    op.create_table(
        "model", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(500), nullable=False),
        sa.Column("source", sa.String(8), nullable=False), sa.Column("location", sa.Text(), nullable=False),
        sa.Column("revision", sa.String(200), nullable=False), sa.Column("dtype", sa.String(16), nullable=False),
        sa.Column("trust_remote_code", sa.Boolean(), nullable=False),
        sa.CheckConstraint("source IN ('local', 'hub', 'gguf')", name="ck_model_source"),
        sa.UniqueConstraint("source", "location", "revision", name="uq_model_location"))
    op.create_table(
        "run", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(500), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False), sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_dir", sa.Text(), nullable=False), sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True), sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False), sa.Column("last_step", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('created', 'running', 'stopping', 'finished', 'stopped', 'failed', "
                           "'crashed')", name="ck_run_status"))
    op.create_table(
        "metric", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False), sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True))
    op.create_index("uq_metric_run_key_step", "metric", ["run_id", "key", "step"], unique=True)
    op.create_table(
        "checkpoint", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False), sa.Column("path", sa.Text(), nullable=False),
        sa.UniqueConstraint("run_id", "step", name="uq_checkpoint_run_step"))
    op.create_table(
        "evaluation", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=True),
        sa.Column("checkpoint_id", sa.Integer(), sa.ForeignKey("checkpoint.id", ondelete="CASCADE"), nullable=True),
        sa.Column("weights", sa.JSON(), nullable=True), sa.Column("objective", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False), sa.Column("value", sa.Float(), nullable=True),
        sa.Column("produced_by", sa.JSON(), nullable=False), sa.Column("created_at", sa.DateTime(), nullable=False))
    op.create_index("ix_evaluation_run", "evaluation", ["run_id"])


def downgrade() -> None:
    for table in ("evaluation", "checkpoint", "metric", "run", "model", "label", "pair", "response", "prompt",
                  "annotator", "objective", "project_meta"):
        op.drop_table(table)
