"""`workbench import PROJECT FILE [--format F] [--objective NAME] [--source S]`: add a dataset to a project.

The whole file is read and checked before the project is opened, so a malformed file leaves the project file
byte for byte as it was; the records then go in with one transaction (store.imports.import_records), so an
import interrupted at any point - even by SIGKILL - leaves either none or all of its pairs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session

from workbench.cli.import_steps import IMPORT_ANNOTATOR, step_format_of
from workbench.cli.import_steps import run as run_step_import
from workbench.core.errors import InputError, ProjectError
from workbench.formats import FORMATS, read_dataset
from workbench.formats.common import Record
from workbench.formats.step_registry import STEP_FORMATS
from workbench.store.db import open_project
from workbench.store.imports import ImportReport, import_records
from workbench.store.objectives import list_objectives

# Test hook: seconds to sleep inside the import transaction, after the rows are written and before the commit,
# so a test can kill the process at exactly that point (tests/cli/test_cli_import_crash.py).
PAUSE_ENV = "WORKBENCH_TEST_IMPORT_PAUSE"
SHOWN_LINES = 20
BIG_FILE = 1_000_000  # bytes; smaller files read in well under a second, a percentage would only flicker


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="the project file")
    parser.add_argument("file", help="the dataset: JSON Lines, a .parquet file, a datasets save_to_disk folder, or "
                                     "hf:org/name[:split] (a hub dataset, needs the datasets package)")
    parser.add_argument("--format", choices=[*FORMATS, *STEP_FORMATS],
                        help="the file's format (default: detected); step-labelled: " + ", ".join(STEP_FORMATS))
    parser.add_argument("--objective", metavar="NAME",
                        help="objective of the records that do not name one (default: the project's only one)")
    parser.add_argument("--source", help="where the pairs come from, kept with each pair (default: file name)")
    parser.add_argument("--annotator", metavar="NAME",
                        help="whose labels the file holds, as named in the project (default: dataset)")


class PercentLine:
    """'reading FILE: 37%' rewritten in place on a terminal, at most once per percent."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self.stream = stream
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent != self.shown:
            self.shown = percent
            self.stream.write(f"\r{self.label}: {percent}%")
            self.stream.flush()

    def finish(self, message: str) -> None:
        if 0 <= self.shown < 100:
            self.stream.write(f"\r{self.label}: 100%")
        if self.shown >= 0:
            self.stream.write("\n")
        self.stream.write(message + "\n")
        self.stream.flush()


def _default_objective(s: Session, records: Sequence[Record], given: str | None, file: str) -> str | None:
    """The objective for records that name none: --objective, else the project's only objective."""
    if given is not None or all(r.objective for r in records):
        return given
    names = [o.name for o in list_objectives(s)]
    if len(names) == 1:
        return names[0]
    have = f"the project has {', '.join(names)}" if names else "the project has none yet"
    raise InputError(f"the records do not say which objective they are for ({have}): pass --objective NAME",
                     path=file)


def _lines(numbers: Sequence[int]) -> str:
    unique = sorted(set(numbers))
    shown = ", ".join(str(n) for n in unique[:SHOWN_LINES])
    return shown + (f", ... ({len(unique) - SHOWN_LINES} more)" if len(unique) > SHOWN_LINES else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def summary(report: ImportReport, objectives: Sequence[str]) -> str:
    """The one-line result: 'imported N pairs, L labels (M duplicates skipped: lines ...), objectives: ...'."""
    text = f"imported {_count(report.pairs_added, 'pair')}, {_count(report.labels_added, 'label')}"
    if report.unpaired_added:
        text += f", {_count(report.unpaired_added, 'unpaired rating')}"
    dups = report.duplicates
    if len(dups) == 1:
        text += f" (1 duplicate skipped: line {dups[0]})"
    else:
        text += f" ({len(dups)} duplicates skipped: lines {_lines(dups)})" if dups else " (0 duplicates skipped)"
    created = set(report.objectives_created)
    names = [f"{n} (new)" if n in created else n for n in objectives]
    return f"{text}, objectives: {', '.join(names)}"


def _pause_for_tests() -> None:
    seconds = os.environ.get(PAUSE_ENV)
    if seconds:
        print("import: rows written, transaction open", file=sys.stderr, flush=True)
        time.sleep(float(seconds))


def _show_progress(file: str) -> bool:
    """A percentage only for people watching a terminal, and only for files big enough to take a while."""
    try:
        return sys.stderr.isatty() and os.path.getsize(file) > BIG_FILE
    except OSError:
        return False  # the reader reports the unreadable file


def run(args: argparse.Namespace) -> int:
    path = Path(args.project)
    if not path.is_file():
        raise ProjectError(f"{path} does not exist: create it first with 'workbench init {path}'")
    step_format = step_format_of(args.file, args.format)
    if step_format is not None:  # a step-labelled file (issue #17)
        return run_step_import(args, step_format)
    progress = PercentLine(f"reading {Path(args.file).name}", sys.stderr) if _show_progress(args.file) else None
    try:
        records = read_dataset(args.file, args.format, progress)
    except InputError:
        if progress is not None and progress.shown >= 0:
            sys.stderr.write("\n")  # the error message goes below the percentage line, not over it
        raise
    if not records:
        raise InputError("the file holds no preference pairs or feedback to import (UltraFeedback rows whose "
                         "ratings are all equal give none)", path=args.file)
    if progress is not None:
        progress.finish(f"importing {len(records)} records ...")
    project = open_project(path)
    try:
        with project.session() as s:
            default = _default_objective(s, records, args.objective, args.file)
            report = import_records(s, records, default_objective=default,
                                    source=args.source or Path(args.file).name,
                                    annotator=args.annotator or IMPORT_ANNOTATOR)
            _pause_for_tests()
    finally:
        project.close()
    objectives = list(dict.fromkeys(r.objective or default or "" for r in records))
    print(summary(report, objectives))
    return 0
