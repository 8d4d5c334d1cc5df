"""The step-labelled formats by name, and whether a file is in one of them (issue #17).

They read into `core.steps.StepwiseRecord`s rather than preference records, so they have a registry of their own
beside formats.registry; their names never clash with the pair formats' ("trl" is pairs, "trl-stepwise" steps),
so one `--format` option can offer both. Detection looks at the first JSON object, most specific layout first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from workbench.core.errors import InputError
from workbench.core.steps import StepwiseRecord
from workbench.formats import math_shepherd, prm800k, processbench, trl_stepwise
from workbench.formats.common import Progress, Row, iter_json_lines


@dataclass(frozen=True)
class StepFormat:
    name: str
    read: Callable[..., list[StepwiseRecord]]  # (path, progress=None) -> records
    write: Callable[[Iterable[StepwiseRecord], str | Path], int]  # (records, path) -> rows written
    looks_like: Callable[[Row], bool]
    description: str


STEP_FORMATS: dict[str, StepFormat] = {
    "trl-stepwise": StepFormat("trl-stepwise", trl_stepwise.read, trl_stepwise.write, trl_stepwise.looks_like,
                               "TRL stepwise supervision JSONL: prompt, completions (steps), labels (one per step)"),
    "prm800k": StepFormat("prm800k", prm800k.read, prm800k.write, prm800k.looks_like,
                          "PRM800K: question + label.steps with -1/0/+1 ratings per completion"),
    "math-shepherd": StepFormat("math-shepherd", math_shepherd.read, math_shepherd.write, math_shepherd.looks_like,
                                "Math-Shepherd: input with 'Step k: ... ки' tags, label with + / -"),
    "processbench": StepFormat("processbench", processbench.read, processbench.write, processbench.looks_like,
                               "ProcessBench: problem, steps, label = index of the first wrong step or -1"),
}
DETECTION_ORDER = ("prm800k", "processbench", "math-shepherd", "trl-stepwise")


def is_step_format(name: str | None) -> bool:
    return name in STEP_FORMATS


def get_step_format(name: str) -> StepFormat:
    if name not in STEP_FORMATS:
        raise InputError(f"unknown step format {name!r}: use one of {', '.join(STEP_FORMATS)}")
    return STEP_FORMATS[name]


def sniff_step_format(path: str | Path) -> StepFormat | None:
    """The step format of a JSONL file judged from its first object, or None when it is not one (a pair format,
    an unknown layout, an empty file: formats.registry.detect_format then says so)."""
    for _line, row in iter_json_lines(path):
        for name in DETECTION_ORDER:
            if STEP_FORMATS[name].looks_like(row):
                return STEP_FORMATS[name]
        return None
    return None


def read_stepwise(path: str | Path, name: str | None = None, progress: Progress | None = None
                  ) -> list[StepwiseRecord]:
    """Every record of a step-labelled file in the named format (detected when None), checked line by line."""
    fmt = get_step_format(name) if name else sniff_step_format(path)
    if fmt is None:
        raise InputError(f"this is not a step-labelled file (its first record matches none of "
                         f"{', '.join(STEP_FORMATS)}): pass --format", path=str(path))
    return fmt.read(path, progress)
