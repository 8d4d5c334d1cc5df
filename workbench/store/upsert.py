"""Insert-or-get on a unique name, safe against a second writer (issue #12).

A check-then-insert (`SELECT` finds nothing, then `INSERT`) races with another connection that inserts the same name
in between: the loser's INSERT hits the unique constraint and the user saw an IntegrityError. `INSERT ... ON
CONFLICT DO NOTHING` followed by the lookup is correct whichever writer wins.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

R = TypeVar("R")


def insert_if_missing(s: Session, row_type: type[R], name: str, **values: Any) -> bool:
    """Insert a `row_type` named `name` unless one exists; True when this call inserted it."""
    result = s.execute(insert(row_type).values(name=name, **values).on_conflict_do_nothing(index_elements=["name"]))
    return bool(result.rowcount)


def get_or_insert(s: Session, row_type: type[R], name: str, **values: Any) -> R:
    """The `row_type` row named `name`, inserted first when missing (see the module docstring)."""
    row = s.scalar(select(row_type).where(row_type.name == name))  # type: ignore[attr-defined]
    if row is None:
        insert_if_missing(s, row_type, name, **values)
        row = s.scalar(select(row_type).where(row_type.name == name))  # type: ignore[attr-defined]
    return row  # type: ignore[return-value]
