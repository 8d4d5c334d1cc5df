"""The dataset formats by name, and which one a file is in when the user does not say.

Detection looks at the first JSON object of the file, most specific layout first: UltraFeedback rows have
"instruction" + "completions", KTO rows "completion" + "label", HH-RLHF rows Human/Assistant transcripts in
"chosen"/"rejected" without a prompt, and anything else with "chosen" and "rejected" is TRL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from workbench.core.errors import InputError
from workbench.formats import hh_rlhf, kto, trl, ultrafeedback
from workbench.formats.common import Progress, Record, Row, iter_json_lines


@dataclass(frozen=True)
class Format:
    name: str
    read: Callable[..., list[Record]]  # (path, progress=None) -> records
    write: Callable[[Iterable[Record], str | Path], int]  # (records, path) -> rows written
    looks_like: Callable[[Row], bool]
    description: str


FORMATS: dict[str, Format] = {
    "trl": Format("trl", trl.read, trl.write_trl, trl.looks_like,
                  "TRL preference JSONL: prompt/chosen/rejected (text or chat messages)"),
    "ultrafeedback": Format("ultrafeedback", ultrafeedback.read, ultrafeedback.write, ultrafeedback.looks_like,
                            "UltraFeedback: instruction + rated completions, one objective per aspect"),
    "hh-rlhf": Format("hh-rlhf", hh_rlhf.read, hh_rlhf.write, hh_rlhf.looks_like,
                      "Anthropic HH-RLHF: chosen/rejected Human/Assistant transcripts"),
    "kto": Format("kto", kto.read, kto.write, kto.looks_like,
                  "KTO unpaired feedback: prompt/completion/label"),
}
DETECTION_ORDER = ("ultrafeedback", "kto", "hh-rlhf", "trl")


def get_format(name: str) -> Format:
    if name not in FORMATS:
        raise InputError(f"unknown format {name!r}: use one of {', '.join(FORMATS)}")
    return FORMATS[name]


def detect_format(path: str | Path) -> Format:
    """The format of a file, judged from its first JSON object; InputError when the file is empty or unknown."""
    from workbench.formats.tabular import detect_table_format, is_table_source

    if is_table_source(path):  # Parquet, a save_to_disk folder, a hub id: judged from the first row
        return FORMATS[detect_table_format(path)]
    for _line, row in iter_json_lines(path):
        for name in DETECTION_ORDER:
            if FORMATS[name].looks_like(row):
                return FORMATS[name]
        keys = ", ".join(sorted(row)[:8]) or "none"
        raise InputError(f"cannot tell the dataset format from the first record (its fields: {keys}): pass "
                         f"--format with one of {', '.join(FORMATS)}", path=str(path), line=_line)
    raise InputError("the file holds no records", path=str(path))


def read_dataset(path: str | Path, name: str | None = None, progress: Progress | None = None) -> list[Record]:
    """Every record of a dataset file in the named format (detected when None), checked line by line. Parquet,
    `save_to_disk` folders and "hf:org/name[:split]" go through workbench.formats.tabular (same records)."""
    from workbench.formats.tabular import is_table_source, read_table_dataset

    if is_table_source(path):
        return read_table_dataset(path, name, progress)
    fmt = get_format(name) if name else detect_format(path)
    return fmt.read(path, progress)
