"""`workbench export PROJECT --objective NAME --out FILE [--format trl]`: the labelled pairs of one objective.

Each pair's preference is the majority of its active decisive labels (store.exports.iter_preferences); the file
is written through a temporary file, so a failed export never leaves a half-written dataset.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.core.errors import ProjectError
from workbench.formats import FORMATS, get_format
from workbench.store.db import open_project
from workbench.store.exports import iter_preferences


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="the project file")
    parser.add_argument("--objective", required=True, metavar="NAME", help="the objective whose pairs to export")
    parser.add_argument("--out", required=True, metavar="FILE", help="the JSONL file to write")
    parser.add_argument("--format", default="trl", choices=list(FORMATS), help="file format (default: trl)")


def run(args: argparse.Namespace) -> int:
    path = Path(args.project)
    if not path.is_file():
        raise ProjectError(f"{path} does not exist: check the path or create it with 'workbench init {path}'")
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
