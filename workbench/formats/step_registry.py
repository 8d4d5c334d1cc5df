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
from workbench.formats.common import MAX_REPORTED, Progress, Row, iter_json_lines
from workbench.formats.step_common import StepRowParser


@dataclass(frozen=True)
class StepFormat:
    name: str
    read: Callable[..., list[StepwiseRecord]]  # (path, progress=None) -> records
    write: Callable[[Iterable[StepwiseRecord], str | Path], int]  # (records, path) -> rows written
    looks_like: Callable[[Row], bool]
    description: str
    parse_row: StepRowParser


STEP_FORMATS: dict[str, StepFormat] = {
    "trl-stepwise": StepFormat("trl-stepwise", trl_stepwise.read, trl_stepwise.write, trl_stepwise.looks_like,
                               "TRL stepwise supervision JSONL: prompt, completions (steps), labels (one per step)",
                               trl_stepwise.parse_row),
    "prm800k": StepFormat("prm800k", prm800k.read, prm800k.write, prm800k.looks_like,
                          "PRM800K: question + label.steps with -1/0/+1 ratings per completion", prm800k.parse_row),
    "math-shepherd": StepFormat("math-shepherd", math_shepherd.read, math_shepherd.write, math_shepherd.looks_like,
                                "Math-Shepherd: input with 'Step k: ... ки' tags, label with + / -",
                                math_shepherd.parse_row),
    "processbench": StepFormat("processbench", processbench.read, processbench.write, processbench.looks_like,
                               "ProcessBench: problem, steps, label = index of the first wrong step or -1",
                               processbench.parse_row),
}
DETECTION_ORDER = ("prm800k", "processbench", "math-shepherd", "trl-stepwise")


def is_step_format(name: str | None) -> bool:
    return name in STEP_FORMATS


def get_step_format(name: str) -> StepFormat:
    if name not in STEP_FORMATS:
        raise InputError(f"unknown step format {name!r}: use one of {', '.join(STEP_FORMATS)}")
    return STEP_FORMATS[name]


def _first_row(path: str | Path) -> Row | None:
    from workbench.formats.tabular import is_table_source, iter_rows

    rows = iter_rows(path) if is_table_source(path) else iter_json_lines(path)
    for _number, row in rows:
        return row
    return None


def sniff_step_format(path: str | Path) -> StepFormat | None:
    """The step format of a file judged from its first record, or None when it is not one (a pair format, an
    unknown layout, an empty file: formats.registry.detect_format then says so). JSONL, Parquet, a save_to_disk
    folder or "hf:org/name[:split]" (formats.tabular), as for the pair formats."""
    row = _first_row(path)
    for name in DETECTION_ORDER:
        if row is not None and STEP_FORMATS[name].looks_like(row):
            return STEP_FORMATS[name]
    return None


def read_stepwise(path: str | Path, name: str | None = None, progress: Progress | None = None
                  ) -> list[StepwiseRecord]:
    """Every record of a step-labelled source in the named format (detected when None), all checked first."""
    from workbench.formats.tabular import is_table_source

    fmt = get_step_format(name) if name else sniff_step_format(path)
    if fmt is None:
        raise InputError(f"this is not a step-labelled file (its first record matches none of "
                         f"{', '.join(STEP_FORMATS)}): pass --format", path=str(path))
    if is_table_source(path):
        return _read_table(path, fmt, progress)
    return fmt.read(path, progress)


def _read_table(source: str | Path, fmt: StepFormat, progress: Progress | None) -> list[StepwiseRecord]:
    """The rows of a Parquet file / datasets folder / hub dataset through the format's row parser; the first
    problem is raised naming the rows of the others (as formats.tabular does for pairs)."""
    from workbench.formats.tabular import iter_rows

    records: list[StepwiseRecord] = []
    first: InputError | None = None
    others: list[int] = []
    for number, row in iter_rows(source, progress):
        try:
            records.extend(fmt.parse_row(row, number, str(source)))
        except InputError as exc:
            first, others = (exc, others) if first is None else (first, [*others, number])
    if first is None:
        return records
    if not others:
        raise first
    shown = ", ".join(map(str, others[:MAX_REPORTED])) + (", ..." if len(others) > MAX_REPORTED else "")
    prefix = f"{first.path}:{first.line}: "
    message = str(first)[len(prefix):] if str(first).startswith(prefix) else str(first)
    raise InputError(f"{message} ({len(others)} more problem{'s' if len(others) > 1 else ''}, on row"
                     f"{'s' if len(others) > 1 else ''} {shown})", path=first.path, line=first.line)
