"""Base models the project knows: a local folder, a hub id or a .gguf file (with revision and dtype)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.entities import ModelInfo
from workbench.core.errors import ProjectError
from workbench.store import convert
from workbench.store.schema import ModelRow

SOURCES = ("local", "hub", "gguf")


def add_model(s: Session, name: str, source: str, location: str, *, revision: str = "", dtype: str = "auto",
              trust_remote_code: bool = False) -> ModelInfo:
    """Register a model; the same (source, location, revision) returns the existing entry with updated settings."""
    if source not in SOURCES:
        raise ProjectError(f"a model comes from 'local', 'hub' or 'gguf', not {source!r}")
    if not location.strip():
        raise ProjectError("a model needs a location: a folder, a hub id or a .gguf file")
    row = s.scalar(select(ModelRow).where(ModelRow.source == source, ModelRow.location == location,
                                          ModelRow.revision == revision))
    if row is None:
        row = ModelRow(name=name, source=source, location=location, revision=revision)
        s.add(row)
    row.name, row.dtype, row.trust_remote_code = name, dtype, trust_remote_code
    s.flush()
    return convert.model(row)


def list_models(s: Session) -> list[ModelInfo]:
    return [convert.model(r) for r in s.scalars(select(ModelRow).order_by(ModelRow.id))]
