"""`workbench export PROJECT --objective NAME --out FILE [--format trl]`: the labelled pairs of one objective.

Each pair's preference is the majority of its active decisive labels (store.exports.iter_preferences); the file
is written through a temporary file, so a failed export never leaves a half-written dataset. A step format
(trl-stepwise, prm800k, math-shepherd, processbench) exports the objective's step-labelled solutions instead
(store.step_records.export_stepwise: per step a human's latest rating, else an imported one).
"""

from __future__ import annotations

import argparse
from pathlib import Path


from workbench.core.errors import ProjectError
from workbench.formats import FORMATS, get_format
from workbench.formats.step_registry import STEP_FORMATS
from workbench.store.db import open_project
from workbench.store.exports import iter_preferences
from workbench.store.step_files import write_step_labels


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="the project file")
    parser.add_argument("--objective", required=True, metavar="NAME", help="the objective whose pairs to export")
    parser.add_argument("--out", required=True, metavar="FILE", help="the JSONL file to write")
    parser.add_argument("--format", default="trl", choices=[*FORMATS, *STEP_FORMATS],
                        help="file format (default: trl); step labels: " + ", ".join(STEP_FORMATS))


def run(args: argparse.Namespace) -> int:
    path = Path(args.project)
    if not path.is_file():
        raise ProjectError(f"{path} does not exist: check the path or create it with 'workbench init {path}'")
    if args.format in STEP_FORMATS:
        return _export_steps(path, args)
    fmt = get_format(args.format)
    project = open_project(path)
    try:
        with project.session() as s:
            records = list(iter_preferences(s, args.objective))
    finally:
        project.close()
    fmt.write(records, args.out)
    note = "" if records else " (no pair has a majority label for it yet)"
    print(f"exported {len(records)} pairs of objective {args.objective!r} to {args.out} as {fmt.name}{note}")
    return 0


def _export_steps(path: Path, args: argparse.Namespace) -> int:
    project = open_project(path)
    try:
        with project.session() as s:
            rows, solutions = write_step_labels(s, args.objective, args.format, args.out)
    finally:
        project.close()
    note = "" if solutions else " (no step of it is rated yet)"
    if solutions - rows:
        note += f" ({solutions - rows} whose first step is unrated left out)"
    print(f"exported {rows} step-labelled solutions of objective {args.objective!r} to {args.out} as {args.format}"
          f"{note}")
    return 0
