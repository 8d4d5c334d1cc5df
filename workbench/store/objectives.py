"""Objectives: the named components of the reward vector every label belongs to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.entities import Objective
from workbench.core.errors import ProjectError
from workbench.store import convert
from workbench.store.schema import ObjectiveRow
from workbench.store.upsert import get_or_insert, insert_if_missing

DIRECTIONS = ("maximize", "minimize")


def _check(name: str | None, direction: str | None) -> None:
    if name is not None and not name.strip():
        raise ProjectError("an objective needs a name: type one, e.g. 'helpfulness'")
    if direction is not None and direction not in DIRECTIONS:
        raise ProjectError(f"direction must be 'maximize' or 'minimize', not {direction!r}")


def list_objectives(s: Session) -> list[Objective]:
    return [convert.objective(r) for r in s.scalars(select(ObjectiveRow).order_by(ObjectiveRow.id))]


def add_objective(s: Session, name: str, description: str = "", direction: str = "maximize") -> Objective:
    _check(name, direction)
    name = name.strip()
    if not insert_if_missing(s, ObjectiveRow, name, description=description, direction=direction):
        raise ProjectError(f"an objective named {name!r} already exists: choose another name")
    return convert.objective(s.scalars(select(ObjectiveRow).where(ObjectiveRow.name == name)).one())


def update_objective(s: Session, id: int, *, name: str | None = None, description: str | None = None,
                     direction: str | None = None) -> Objective:
    _check(name, direction)
    row = s.get(ObjectiveRow, id)
    if row is None:
        raise ProjectError(f"objective {id} does not exist (it may have been deleted): reload the project")
    if name is not None and name.strip() != row.name:
        if s.scalar(select(ObjectiveRow.id).where(ObjectiveRow.name == name.strip())) is not None:
            raise ProjectError(f"an objective named {name.strip()!r} already exists: choose another name")
        row.name = name.strip()
    if description is not None:
        row.description = description
    if direction is not None:
        row.direction = direction
    s.flush()
    return convert.objective(row)


def get_or_create_objective(s: Session, name: str) -> Objective:
    _check(name, None)
    return convert.objective(get_or_insert(s, ObjectiveRow, name.strip(), description="", direction="maximize"))
