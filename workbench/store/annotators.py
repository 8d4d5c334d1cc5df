"""Annotators: the people (or datasets) whose labels the project holds; agreement is computed between them."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.entities import Annotator
from workbench.core.errors import ProjectError
from workbench.store import convert
from workbench.store.schema import AnnotatorRow, ProjectMeta
from workbench.store.upsert import get_or_insert


def list_annotators(s: Session) -> list[Annotator]:
    return [convert.annotator(r) for r in s.scalars(select(AnnotatorRow).order_by(AnnotatorRow.id))]


def get_or_create_annotator(s: Session, name: str) -> Annotator:
    name = name.strip()
    if not name:
        raise ProjectError("an annotator needs a name: type yours in the labelling screen")
    return convert.annotator(get_or_insert(s, AnnotatorRow, name))


# --- which labels are human (issue #13): one rule for the queue's overlap, position bias and labelling speed ------
# Labels that came from a file (import) or from scorers were never shown on a screen: they must not fill a pair's
# overlap, nor count as decisions in position-bias or speed statistics. Imports record their annotator here; the
# names imports and the demo used before that record existed are recognised too.
IMPORT_ANNOTATORS_KEY = "import_annotators"
LEGACY_IMPORT_NAMES = ("dataset", "scorers")


def mark_import_annotator(s: Session, annotator_id: int) -> None:
    """Remember that `annotator_id` labels by import (its labels are not human labels)."""
    row = s.get(ProjectMeta, IMPORT_ANNOTATORS_KEY)
    ids = set(json.loads(row.value)) if row is not None and row.value else set()
    if annotator_id in ids:
        return
    ids.add(int(annotator_id))
    if row is None:
        s.add(ProjectMeta(key=IMPORT_ANNOTATORS_KEY, value=json.dumps(sorted(ids))))
    else:
        row.value = json.dumps(sorted(ids))
    s.flush()


def import_annotator_ids(s: Session) -> set[int]:
    """Ids of the annotators whose labels were imported, not made on screen."""
    row = s.get(ProjectMeta, IMPORT_ANNOTATORS_KEY)
    ids = {int(i) for i in json.loads(row.value)} if row is not None and row.value else set()
    ids.update(s.scalars(select(AnnotatorRow.id).where(AnnotatorRow.name.in_(LEGACY_IMPORT_NAMES))))
    return ids
