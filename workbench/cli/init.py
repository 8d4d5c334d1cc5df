"""`workbench init PROJECT [--objective NAME]...`: create a new, empty project file with its objectives."""

from __future__ import annotations

import argparse

from workbench.core.errors import ProjectError
from workbench.store.db import create_project
from workbench.store.objectives import add_objective

DEFAULT_OBJECTIVE = "helpfulness"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="path of the new project file (e.g. my-project.sqlite)")
    parser.add_argument("--objective", action="append", metavar="NAME",
                        help=f"an objective to label and train for; repeat for several (default: {DEFAULT_OBJECTIVE})")


def objective_names(given: list[str] | None) -> list[str]:
    """The objective names to create, checked before the file exists so a bad name leaves no file behind."""
    names = [n.strip() for n in (given or [DEFAULT_OBJECTIVE])]
    if any(not n for n in names):
        raise ProjectError("an objective needs a name: pass --objective NAME with a non-empty NAME")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ProjectError(f"the objective {repeated[0]!r} is given twice: name each objective once")
    return names


def run(args: argparse.Namespace) -> int:
    names = objective_names(args.objective)
    project = create_project(args.project)
    try:
        with project.session() as s:
            for name in names:
                add_objective(s, name)
    finally:
        project.close()
    print(f"created {args.project} with objectives: {', '.join(names)}")
    return 0
