"""The project's hypervolume reference point, stored as JSON under the `project_meta` key below (no schema change).

Form: {axis: {"base": float, "user": float}} (either may be absent), axis = "<objective> · <metric>". The base
model's reward vector is written once, by the ingestion of the first base-model evaluation (`remember_base`);
later base evaluations do not move it, so fronts measured later stay comparable. A user's value overrides an axis
(`set_reference`) until cleared, which hands the axis back to the base model's value. The rule that turns this into a hypervolume is workbench.core.hv_reference.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from sqlalchemy.orm import Session

from workbench.core.errors import ProjectError
from workbench.core.hv_reference import ReferencePoint, merge_reference
from workbench.store.schema import ProjectMeta

KEY = "hypervolume_reference"


def _stored(s: Session) -> dict[str, dict[str, object]]:
    row = s.get(ProjectMeta, KEY)
    if row is None or not row.value:
        return {}
    try:
        data = json.loads(row.value)
    except ValueError:
        return {}
    return {str(k): dict(v) for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def _write(s: Session, data: Mapping[str, Mapping[str, object]]) -> None:
    row = s.get(ProjectMeta, KEY)
    text = json.dumps(data, sort_keys=True)
    if row is None:
        s.add(ProjectMeta(key=KEY, value=text))
    else:
        row.value = text
    s.flush()


def get_reference(s: Session) -> ReferencePoint:
    return merge_reference(_stored(s))


def set_reference(s: Session, values: Mapping[str, float | None]) -> ReferencePoint:
    """Set axes to the user's values; None clears the user's value (the base model's applies again)."""
    data = _stored(s)
    for axis, value in values.items():
        entry = data.setdefault(axis, {})
        if value is None:
            entry.pop("user", None)
            continue
        if not math.isfinite(float(value)):
            raise ProjectError(f"the reference value of {axis} must be a finite number, not {value!r}")
        entry["user"] = float(value)
    _write(s, {a: e for a, e in data.items() if e})
    return merge_reference(data)


def remember_base(s: Session, values: Mapping[str, float | None]) -> list[str]:
    """Store the base model's value on every axis that has none yet (measured once); returns the axes written."""
    data = _stored(s)
    added = [a for a, v in values.items() if "base" not in data.get(a, {}) and v is not None
             and math.isfinite(float(v))]
    for axis in added:
        data.setdefault(axis, {})["base"] = float(values[axis])  # type: ignore[arg-type]
    if added:
        _write(s, data)
    return added
