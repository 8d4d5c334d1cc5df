"""The project file's tables as a SQLAlchemy 2 typed ORM (DESIGN.md §4).

These classes never leave the store: every public store function converts rows to the frozen entities of
`workbench.core.entities` (see `convert.py`). The Alembic migrations in `migrations/versions/` build exactly this
schema; `tests/store/test_db.py` compares the migrated file with this metadata so the two cannot drift apart.

Performance-relevant choices:
- `prompt.text_hash` / `response.text_hash` (sha1 of the canonical content) are indexed so importing 100,000
  records deduplicates with O(1) look-ups instead of comparing long texts.
- `pair.labelled_by` (number of distinct annotators with an active label on the pair) and `pair.shuffle_key`
  (a random key fixed at insert time) let the labelling queue find the next pair with one index seek
  (`ix_pair_queue_shuffle`, `ix_pair_queue_order`) even with a million labels in the file.
- `label` rows are never deleted (undo keeps history): `superseded_at IS NULL` marks the active one, and a partial
  unique index guarantees at most one active label per (pair, objective, annotator).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from workbench.store.clock import utcnow


class Base(DeclarativeBase):
    """Declarative base of every project table."""


class ProjectMeta(Base):
    """Key/value facts about the file itself (who created it, with which application version)."""

    __tablename__ = "project_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class ObjectiveRow(Base):
    __tablename__ = "objective"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    direction: Mapped[str] = mapped_column(String(16), default="maximize")
    __table_args__ = (CheckConstraint("direction IN ('maximize', 'minimize')", name="ck_objective_direction"),)


class AnnotatorRow(Base):
    __tablename__ = "annotator"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class PromptRow(Base):
    __tablename__ = "prompt"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    messages: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    source: Mapped[str] = mapped_column(String(200), default="")
    text_hash: Mapped[str] = mapped_column(String(40), unique=True)


class ResponseRow(Base):
    __tablename__ = "response"
    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompt.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    messages: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    model: Mapped[str] = mapped_column(String(500), default="")
    generation: Mapped[Any] = mapped_column(JSON, default=dict)
    text_hash: Mapped[str] = mapped_column(String(40))
    __table_args__ = (UniqueConstraint("prompt_id", "text_hash", name="uq_response_prompt_hash"),)


class PairRow(Base):
    __tablename__ = "pair"
    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompt.id", ondelete="CASCADE"))
    response_a_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"))
    response_b_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(200), default="")
    extra: Mapped[Any] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    labelled_by: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    shuffle_key: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    round_id: Mapped[int | None] = mapped_column(ForeignKey("round.id"), nullable=True)
    __table_args__ = (
        UniqueConstraint("prompt_id", "response_a_id", "response_b_id", name="uq_pair_responses"),
        Index("ix_pair_round", "round_id"),
        Index("ix_pair_queue_shuffle", "labelled_by", "shuffle_key"),
        Index("ix_pair_queue_order", "labelled_by", "id"),
    )


class LabelRow(Base):
    __tablename__ = "label"
    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id", ondelete="CASCADE"))
    objective_id: Mapped[int] = mapped_column(ForeignKey("objective.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    choice: Mapped[str] = mapped_column(String(4))
    strength: Mapped[int] = mapped_column(Integer, default=2)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    shown_swapped: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("label.id"), nullable=True)
    __table_args__ = (
        CheckConstraint("choice IN ('a', 'b', 'tie', 'skip')", name="ck_label_choice"),
        CheckConstraint("strength BETWEEN 1 AND 3", name="ck_label_strength"),
        Index("ix_label_pair", "pair_id"),
        Index("uq_label_active", "annotator_id", "pair_id", "objective_id", unique=True,
              sqlite_where=text("superseded_at IS NULL")),
        Index("ix_label_objective_active", "objective_id", "pair_id", sqlite_where=text("superseded_at IS NULL")),
        # (annotator_id, rowid) order: an annotator's most recent active labels in one index walk (queue.py)
        Index("ix_label_annotator_recent", "annotator_id", sqlite_where=text("superseded_at IS NULL")),
    )


class UnpairedFeedbackRow(Base):
    __tablename__ = "unpaired_feedback"
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"))
    objective_id: Mapped[int] = mapped_column(ForeignKey("objective.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    desirable: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (
        UniqueConstraint("response_id", "objective_id", "annotator_id", name="uq_unpaired_feedback"),
    )


class ModelRow(Base):
    __tablename__ = "model"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(Text)
    revision: Mapped[str] = mapped_column(String(200), default="")
    dtype: Mapped[str] = mapped_column(String(16), default="auto")
    trust_remote_code: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (
        CheckConstraint("source IN ('local', 'hub', 'gguf')", name="ck_model_source"),
        UniqueConstraint("source", "location", "revision", name="uq_model_location"),
    )


class RunRow(Base):
    __tablename__ = "run"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    config: Mapped[Any] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="created")
    run_dir: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    events_offset: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    round_id: Mapped[int | None] = mapped_column(ForeignKey("round.id"), nullable=True)
    __table_args__ = (
        CheckConstraint("status IN ('created', 'running', 'stopping', 'finished', 'stopped', 'failed', 'crashed')",
                        name="ck_run_status"),
    )


class MetricRow(Base):
    __tablename__ = "metric"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)  # NULL = NaN (SQLite has no NaN)
    __table_args__ = (Index("uq_metric_run_key_step", "run_id", "key", "step", unique=True),)


class CheckpointRow(Base):
    __tablename__ = "checkpoint"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("run_id", "step", name="uq_checkpoint_run_step"),)


class EvaluationRow(Base):
    __tablename__ = "evaluation"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), nullable=True)
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoint.id", ondelete="CASCADE"), nullable=True)
    weights: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    objective: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    produced_by: Mapped[Any] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (Index("ix_evaluation_run", "run_id"),)


class RoundRow(Base):
    """One on-policy round (workbench.core.rounds): settings, steps done, its generations folder; its run is the
    one whose run.round_id points here."""

    __tablename__ = "round"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    settings: Mapped[Any] = mapped_column(JSON, default=dict)
    run_config: Mapped[Any] = mapped_column(JSON, default=dict)
    done: Mapped[Any] = mapped_column(JSON, default=dict)
    folder: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("number", name="uq_round_number"),)


# --- step labels (issue #17, migration 0005): a response split into steps, each step rated per objective --------
STEP_SPLIT_MODES = ("line", "paragraph", "step_k", "regex", "imported")  # core.steps modes + steps given by a file


class StepSplitRow(Base):
    """How one response is split into steps (core.steps.StepSplit; "imported": the steps a file gave). `meta` keeps
    what a format wants back on export (core.steps.StepwiseRecord.meta)."""

    __tablename__ = "step_split"
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(16))
    pattern: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    meta: Mapped[Any] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (
        UniqueConstraint("response_id", name="uq_step_split_response"),
        CheckConstraint("mode IN ('line', 'paragraph', 'step_k', 'regex', 'imported')", name="ck_step_split_mode"),
    )


class StepRow(Base):
    """One step of a split response: its 0-based index, text and [start_char, end_char) span in the response."""

    __tablename__ = "step"
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    __table_args__ = (UniqueConstraint("response_id", "idx", name="uq_step_response_idx"),)


class StepLabelRow(Base):
    """One annotator's rating of one step for one objective (PRM800K: +1 good, 0 neutral, -1 bad; NULL = the
    rating was cleared, e.g. the steps after a "first error here" mark). Never deleted, as pair labels: relabelling
    supersedes the active row and points back to it, undo re-activates what was replaced."""

    __tablename__ = "step_label"
    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("step.id", ondelete="CASCADE"))
    objective_id: Mapped[int] = mapped_column(ForeignKey("objective.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    first_error: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("step_label.id"), nullable=True)
    __table_args__ = (
        CheckConstraint("rating IS NULL OR rating IN (-1, 0, 1)", name="ck_step_label_rating"),
        Index("ix_step_label_step", "step_id"),
        Index("uq_step_label_active", "annotator_id", "step_id", "objective_id", unique=True,
              sqlite_where=text("superseded_at IS NULL")),
        Index("ix_step_label_objective_active", "objective_id", "step_id", sqlite_where=text("superseded_at IS NULL")),
    )


class PromptAnswerRow(Base):
    """The known reference (final) answer of a prompt, for answer checking and automatic step/outcome labels."""

    __tablename__ = "prompt_answer"
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompt.id", ondelete="CASCADE"), primary_key=True)
    answer: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200), default="")
