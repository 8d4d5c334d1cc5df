"""Preference data where users keep it (issue #13): Parquet files, Hugging Face `datasets` folders written by
`save_to_disk`, and hub datasets by id and split ("hf:org/name" or "hf:org/name:split"), for the same four
formats as the JSON Lines readers.

Each source is turned into rows (plain dicts, one per record) and every row goes through the format's own
`parse_row`, so a Parquet file yields exactly the records the same data as JSONL would, with the same checks, the
same all-or-nothing rule (every row is checked before anything is stored) and errors that name the row ("row 17",
counted from 1 like JSONL lines). `pyarrow` (Parquet) and `datasets` (folders, the hub) are optional: without
them the error says which package to install. Nothing here imports Qt, torch or the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError
from workbench.formats import hh_rlhf, kto, trl, ultrafeedback
from workbench.formats.common import MAX_REPORTED, Progress, Record, Row, RowParser

HUB_PREFIX = "hf:"
PARSERS: dict[str, RowParser] = {"trl": trl.parse_row, "ultrafeedback": ultrafeedback.parse_row,
                                 "hh-rlhf": hh_rlhf.parse_row, "kto": kto.parse_row}
LOOKS_LIKE = {"trl": trl.looks_like, "ultrafeedback": ultrafeedback.looks_like, "hh-rlhf": hh_rlhf.looks_like,
              "kto": kto.looks_like}
DETECTION_ORDER = ("ultrafeedback", "kto", "hh-rlhf", "trl")  # as formats.registry: most specific first
BATCH_ROWS = 2048


def is_table_source(source: str | Path) -> bool:
    """A Parquet file, a `save_to_disk` folder or a hub id: what this module reads (JSONL goes elsewhere)."""
    text = str(source)
    if text.startswith(HUB_PREFIX):
        return True
    path = Path(text)
    return path.suffix.lower() == ".parquet" or (path.is_dir() and _is_saved_dataset(path))


def _is_saved_dataset(folder: Path) -> bool:
    return (folder / "dataset_info.json").is_file() or (folder / "dataset_dict.json").is_file() \
        or (folder / "state.json").is_file()


def _need(package: str, source: str) -> Any:
    try:
        return __import__(package)
    except ImportError:
        extra = "pyarrow" if package == "pyarrow" else "datasets"
        raise InputError(f"reading this source needs the '{extra}' package: pip install {extra} (or "
                         "\"alignment-workbench[datasets]\")", path=source) from None


def iter_rows(source: str | Path, progress: Progress | None = None) -> Iterator[tuple[int, Row]]:
    """(1-based row number, row) of every record of the source."""
    text = str(source)
    if Path(text).suffix.lower() == ".parquet" and not text.startswith(HUB_PREFIX):
        yield from _parquet_rows(Path(text), progress)
    else:
        yield from _dataset_rows(text, progress)


def _parquet_rows(path: Path, progress: Progress | None) -> Iterator[tuple[int, Row]]:
    _need("pyarrow", str(path))
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError
        raise InputError(f"cannot read the Parquet file ({exc})", path=str(path)) from None
    total, n = pf.metadata.num_rows, 0
    for batch in pf.iter_batches(batch_size=BATCH_ROWS):
        for row in batch.to_pylist():
            n += 1
            yield n, row
        if progress:
            progress(n, total)


def _dataset_rows(source: str, progress: Progress | None) -> Iterator[tuple[int, Row]]:
    datasets = _need("datasets", source)
    try:
        if source.startswith(HUB_PREFIX):
            name, _, split = source[len(HUB_PREFIX):].partition(":")
            data = datasets.load_dataset(name, split=split or "train")
        else:
            data = datasets.load_from_disk(source)
            if isinstance(data, datasets.DatasetDict):
                splits = list(data)
                if "train" not in data and len(splits) != 1:
                    raise InputError(f"the folder holds the splits {', '.join(splits)}: import one split's folder",
                                     path=source)
                data = data["train" if "train" in data else splits[0]]
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - the datasets library raises many kinds; the user needs the reason
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot load the dataset: {reason}", path=source) from None
    total = len(data)
    for n, row in enumerate(data, start=1):
        yield n, dict(row)
        if progress and (n % BATCH_ROWS == 0 or n == total):
            progress(n, total)


def row_count(source: str | Path) -> int:
    """Rows in the source (the import's progress denominator); from the Parquet footer without reading rows."""
    text = str(source)
    if Path(text).suffix.lower() == ".parquet" and not text.startswith(HUB_PREFIX):
        _need("pyarrow", text)
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(text).metadata.num_rows)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the Parquet file ({exc})", path=text) from None
    return sum(1 for _ in iter_rows(text))


def detect_table_format(source: str | Path) -> str:
    for number, row in iter_rows(source):
        for name in DETECTION_ORDER:
            if LOOKS_LIKE[name](row):
                return name
        keys = ", ".join(sorted(row)[:8]) or "none"
        raise InputError(f"cannot tell the dataset format from the first record (its fields: {keys}): choose one "
                         f"of {', '.join(PARSERS)}", path=str(source), line=number)
    raise InputError("the dataset holds no records", path=str(source))


def read_table_dataset(source: str | Path, name: str | None = None, progress: Progress | None = None) -> list[Record]:
    """Every record of the source in the named format (detected when None); all rows are checked first and the
    first problem is raised naming the rows of the others, as read_jsonl_records does for JSONL."""
    fmt = name or detect_table_format(source)
    if fmt not in PARSERS:
        raise InputError(f"unknown format {fmt!r}: use one of {', '.join(PARSERS)}")
    parse = PARSERS[fmt]
    records: list[Record] = []
    first: InputError | None = None
    others: list[int] = []
    for number, row in iter_rows(source, progress):
        try:
            records.extend(parse(row, number, str(source)))
        except InputError as exc:
            if first is None:
                first = exc
            else:
                others.append(number)
    if first is not None:
        if not others:
            raise first
        shown = ", ".join(map(str, others[:MAX_REPORTED])) + (", ..." if len(others) > MAX_REPORTED else "")
        prefix = f"{first.path}:{first.line}: "
        message = str(first)[len(prefix):] if str(first).startswith(prefix) else str(first)
        more = f"1 more problem, on row {shown}" if len(others) == 1 else \
            f"{len(others)} more problems, on rows {shown}"
        raise InputError(f"{message} ({more})", path=first.path, line=first.line) from None
    return records
