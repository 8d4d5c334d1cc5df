"""`workbench stats PROJECT`: sizes, per-objective label coverage and per-annotator counts as plain tables."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from workbench.core.errors import ProjectError
from workbench.store.db import open_project
from workbench.store.stats import ProjectStats, project_stats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="the project file")


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the first column (names) left-aligned, numbers right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [_line(header, widths), *(_line(r, widths) for r in rows)]


def render(path: str, stats: ProjectStats) -> str:
    lines = [f"{path}: {stats.pairs} pairs, {stats.prompts} prompts, {stats.responses} responses", ""]
    steps = any(o.step_labels for o in stats.objectives)  # step columns only in projects with step labels
    objective_rows = [(o.name, str(o.labelled_pairs), str(o.labels), f"{100 * o.coverage:.1f}%",
                       *((str(o.step_labels), str(o.rated_responses)) if steps else ())) for o in stats.objectives]
    header = ("objective", "labelled pairs", "labels", "coverage", *(("step ratings", "rated responses") if steps
                                                                      else ()))
    lines += table(header, objective_rows) if objective_rows else ["no objectives yet"]
    lines.append("")
    annotator_rows = [(a.name, str(a.labels), *((str(a.step_labels),) if steps else ())) for a in stats.annotators]
    lines += table(("annotator", "labels", *(("step ratings",) if steps else ())), annotator_rows) if annotator_rows \
        else ["no annotators yet"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    path = Path(args.project)
    if not path.is_file():
        raise ProjectError(f"{path} does not exist: check the path or create it with 'workbench init {path}'")
    project = open_project(path)
    try:
        with project.session() as s:
            stats = project_stats(s)
    finally:
        project.close()
    print(render(str(path), stats))
    return 0
