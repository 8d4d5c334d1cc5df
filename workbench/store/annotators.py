"""Annotators: the people (or datasets) whose labels the project holds; agreement is computed between them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.entities import Annotator
from workbench.core.errors import ProjectError
from workbench.store import convert
from workbench.store.schema import AnnotatorRow
from workbench.store.upsert import get_or_insert


def list_annotators(s: Session) -> list[Annotator]:
    return [convert.annotator(r) for r in s.scalars(select(AnnotatorRow).order_by(AnnotatorRow.id))]


def get_or_create_annotator(s: Session, name: str) -> Annotator:
    name = name.strip()
    if not name:
        raise ProjectError("an annotator needs a name: type yours in the labelling screen")
    return convert.annotator(get_or_insert(s, AnnotatorRow, name))
