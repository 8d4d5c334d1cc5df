"""`workbench import` of a step-labelled file (issue #17): TRL stepwise, PRM800K, Math-Shepherd, ProcessBench.

As for pairs, the whole file is read and checked before the project is opened, then every record goes in with
one call (store.step_records.import_stepwise: all or nothing). The labels are filed under the annotator
`--annotator` (default "dataset", the pair imports' name), which is marked as an import annotator: its labels are
not human labels (they fill no labelling overlap).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy.orm import Session

from workbench.core.errors import InputError
from workbench.core.steps import StepwiseRecord
from workbench.formats.step_registry import StepFormat, read_stepwise, sniff_step_format
from workbench.store.objectives import list_objectives
from workbench.store.step_files import IMPORT_ANNOTATOR, store_records  # noqa: F401 - the CLI's names
from workbench.store.step_records import StepImportReport



def step_format_of(file: str, given: str | None) -> StepFormat | None:
    """The step format to import `file` with: the one named, or the detected one when none is named; None when
    the file is for the pair importer (a pair format named, or a file whose first record is no step format)."""
    from workbench.formats.step_registry import STEP_FORMATS

    if given is not None:
        return STEP_FORMATS.get(given)
    try:
        return sniff_step_format(file)
    except InputError:
        return None  # unreadable first line: the pair importer reports it as it always has


def objective_for(s: Session, given: str | None, file: str) -> str:
    """--objective, else the project's only objective (step records never name one)."""
    if given:
        return given
    names = [o.name for o in list_objectives(s)]
    if len(names) == 1:
        return names[0]
    have = f"the project has {', '.join(names)}" if names else "the project has none yet"
    raise InputError(f"say which objective these step labels are for ({have}): pass --objective NAME", path=file)


def _count(n: int, noun: str, plural: str = "") -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def step_summary(report: StepImportReport, objective: str) -> str:
    """'imported N solutions (S steps), L step labels (D duplicates skipped), objective: NAME'."""
    text = (f"imported {_count(report.responses_added, 'solution')} ({_count(report.steps_added, 'step')}), "
            f"{_count(report.labels_added, 'step label')}")
    dups = report.duplicates
    if dups:
        shown = ", ".join(map(str, dups[:20])) + (", ..." if len(dups) > 20 else "")
        text += f" ({_count(len(dups), 'duplicate')} skipped: record{'s' if len(dups) > 1 else ''} {shown})"
    return f"{text}, objective: {objective}{' (new)' if report.objective_created else ''}"


def read_step_file(file: str, fmt: StepFormat) -> list[StepwiseRecord]:
    """Every record of the file, checked; a percentage on a terminal for big files (as for pairs)."""
    import sys

    from workbench.cli.import_cmd import PercentLine, _show_progress

    progress = PercentLine(f"reading {Path(file).name}", sys.stderr) if _show_progress(file) else None
    try:
        records = read_stepwise(file, fmt.name, progress)
    except InputError:
        if progress is not None and progress.shown >= 0:
            sys.stderr.write("\n")  # the error message goes below the percentage line, not over it
        raise
    if not records:
        raise InputError("the file holds no step-labelled solutions to import (PRM800K lines without a labelled "
                         "step give none)", path=file)
    if progress is not None:
        progress.finish(f"importing {len(records)} solutions ...")
    return records


def run(args: argparse.Namespace, fmt: StepFormat) -> int:
    from workbench.cli.import_cmd import _pause_for_tests
    from workbench.store.db import open_project

    records = read_step_file(args.file, fmt)
    project = open_project(Path(args.project))
    try:
        with project.session() as s:
            objective = objective_for(s, args.objective, args.file)
            report = store_records(s, records, objective, args.annotator, args.source or Path(args.file).name,
                                   args.file)
            _pause_for_tests()
    finally:
        project.close()
    print(step_summary(report, objective))
    return 0
