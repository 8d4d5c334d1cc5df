"""`workbench label-steps PROJECT --auto [--objective NAME] [--split MODE]`: automatic step and outcome labels by
the answer checker (core.auto_step_labels) for every split response whose prompt has a reference answer.

The labels belong to the annotator "auto:checker", never to a person: they do not fill the labelling queue's
overlap and are told apart from human labels everywhere (core.rounds.is_automatic, store.annotators).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.core.auto_step_labels import CHECKER_ANNOTATOR
from workbench.core.errors import InputError, ProjectError
from workbench.core.steps import SPLIT_MODES, StepSplit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="the project file")
    parser.add_argument("--auto", action="store_true", required=True,
                        help="label with the answer checker (reference answer + known intermediate results)")
    parser.add_argument("--objective", metavar="NAME",
                        help="objective of the labels (default: the project's only one)")
    parser.add_argument("--split", choices=[m for m in SPLIT_MODES if m != "regex"],
                        help="also split the responses not split yet, this way (default: only split ones)")


def run(args: argparse.Namespace) -> int:
    from workbench.cli.import_steps import objective_for
    from workbench.store.auto_step_labels import auto_label_steps
    from workbench.store.db import open_project

    path = Path(args.project)
    if not path.is_file():
        raise ProjectError(f"{path} does not exist: check the path or create it with 'workbench init {path}'")
    project = open_project(path)
    try:
        with project.session() as s:
            objective = objective_for(s, args.objective, str(path))
            report = auto_label_steps(s, objective, split=StepSplit(args.split) if args.split else None)
    finally:
        project.close()
    if not report.checked and not report.no_reference:
        raise InputError("no response is split into steps: import step-labelled data, split responses in the "
                         "Label panel, or pass --split line", path=str(path))
    text = (f"checked {report.checked} solutions ({report.correct} with the right final answer): "
            f"{report.steps_rated} steps rated by {CHECKER_ANNOTATOR}, {report.labels_written} labels written")
    if report.split_now:
        text += f", {report.split_now} responses split now"
    if report.no_reference:
        text += f"; {report.no_reference} split responses have no reference answer"
    print(f"{text}, objective: {objective}")
    return 0
