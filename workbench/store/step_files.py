"""Step-labelled files in and out of the project, as `workbench import` / `workbench export` and the GUI's Import
dialog and File ▸ Export do it (one rule for both clients): records through store.step_records, files through the
step formats (formats/step_registry.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from workbench.core.errors import InputError
from workbench.core.steps import StepwiseRecord
from workbench.formats.step_registry import STEP_FORMATS
from workbench.store.step_records import StepImportReport, export_stepwise, import_stepwise

IMPORT_ANNOTATOR = "dataset"  # the pair imports' name: its labels are not human labels


def store_records(s: Session, records: Sequence[StepwiseRecord], objective: str, annotator: str | None,
                  source: str, file: str) -> StepImportReport:
    """import_stepwise, its "record N" errors naming the file (record N is not line N when lines give none)."""
    try:
        return import_stepwise(s, records, objective, annotator or IMPORT_ANNOTATOR, source=source)
    except InputError as exc:
        if exc.path:
            raise
        raise InputError(str(exc), path=file) from None


def write_step_labels(s: Session, objective: str, fmt: str, out: str | Path) -> tuple[int, int]:
    """Write the objective's step-labelled solutions in a step format: (rows written, solutions with a rating).
    TRL stepwise and Math-Shepherd leave out solutions whose first step is unrated (no row to write)."""
    records = export_stepwise(s, objective)
    return STEP_FORMATS[fmt].write(records, out), len(records)
