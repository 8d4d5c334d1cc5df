"""What every dataset format shares: reading JSON Lines with exact error positions, field checks, atomic writing.

Every problem in a user's file is reported as an `InputError` carrying the file and the 1-based line, so the
message says where to look ("data.jsonl:17: 'chosen' is empty ..."). A reader checks the whole file before
anything is stored: `read_jsonl_records` keeps going after a bad line and reports the first problem together with
the lines of the others, so one run of `workbench import` lists everything that needs fixing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from workbench.core.entities import Messages, PreferenceRecord, UnpairedRecord
from workbench.core.errors import InputError

Record = PreferenceRecord | UnpairedRecord
Row = dict[str, Any]
# (row, line, path) -> the records of that row; raises InputError for a bad row
RowParser = Callable[[Row, int, str], list[Record]]
# (bytes read so far, file size) -> None; called about every 1 % of a big file
Progress = Callable[[int, int], None]

MAX_REPORTED = 10  # lines of further problems named in one error message
UTF8_BOM = b"\xef\xbb\xbf"


def _raw_lines(path: str | Path, progress: Progress | None) -> Iterator[tuple[int, bytes]]:
    """(1-based line, bytes) of every non-blank line; blank lines (an editor's trailing newline) are skipped."""
    path = Path(path)
    try:
        size = path.stat().st_size
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror}): check the path", path=str(path)) from None
    done, step, next_report = 0, max(size // 100, 1), 0
    with fh:
        for number, raw in enumerate(fh, start=1):
            done += len(raw)
            if progress is not None and done >= next_report:
                progress(done, size)
                next_report = done + step
            if number == 1 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM):]
            if raw.strip():
                yield number, raw


def iter_json_lines(path: str | Path, progress: Progress | None = None) -> Iterator[tuple[int, Row]]:
    """(1-based line, object) for every non-blank line of a JSONL file; InputError for the first line that is not
    UTF-8, not JSON, or not a JSON object."""
    for number, raw in _raw_lines(path, progress):
        yield number, parse_json_line(raw, number, str(path))


def parse_json_line(raw: bytes, line: int, path: str) -> Row:
    """One JSONL line as an object, or an InputError that names the line (and the byte for bad UTF-8)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"byte {exc.start + 1} of the line (0x{raw[exc.start]:02x}) is not UTF-8 text: "
                         "save the file as UTF-8", path=path, line=line) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno}): each line must be one JSON object",
                         path=path, line=line) from None
    except ValueError as exc:  # Python's int-digits limit: a number with thousands of digits
        raise InputError(f"a number the reader refuses ({str(exc).split(';')[0]}): numbers in a dataset must be "
                         "ordinary JSON numbers", path=path, line=line) from None
    except RecursionError:
        raise InputError("JSON nested too deeply (lists or objects inside each other thousands of times): "
                         "each line must be one plain JSON object", path=path, line=line) from None
    if "\\u" in text:  # only an escape can produce a lone surrogate from valid UTF-8
        check_surrogates(value, path, line)
    if not isinstance(value, dict):
        raise InputError(f"a JSON {type(value).__name__} where an object was expected: each line must be one "
                         "JSON object such as {\"prompt\": ..., \"chosen\": ..., \"rejected\": ...}",
                         path=path, line=line)
    return value


def check_surrogates(value: Any, path: str, line: int) -> None:
    """InputError for a string with a lone surrogate escape (such as \\ud800): JSON allows it, but it is not
    text, and the store could not save it as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InputError(f"the text holds a lone surrogate escape (\\u{ord(item[exc.start]):04x}), which is "
                                 "not a character: fix the escape or remove it", path=path, line=line) from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def read_jsonl_records(path: str | Path, parse_row: RowParser, progress: Progress | None = None) -> list[Record]:
    """All records of a file, or one InputError for its first problem that also names the lines of the others."""
    records: list[Record] = []
    first: InputError | None = None
    others: list[int] = []  # lines of the problems after the first
    for number, raw in _raw_lines(path, progress):
        try:
            records.extend(parse_row(parse_json_line(raw, number, str(path)), number, str(path)))
        except InputError as exc:
            if first is None:
                first = exc
            else:
                others.append(number)
    if first is not None:
        raise _summarise(first, others)
    return records


def _summarise(first: InputError, others: list[int]) -> InputError:
    if not others:
        return first
    shown = ", ".join(str(n) for n in others[:MAX_REPORTED]) + (", ..." if len(others) > MAX_REPORTED else "")
    prefix = f"{first.path}:{first.line}: "
    message = str(first)[len(prefix):] if str(first).startswith(prefix) else str(first)
    more = f"1 more problem, on line {shown}" if len(others) == 1 else f"{len(others)} more problems, on lines {shown}"
    return InputError(f"{message} ({more})", path=first.path,
                      line=first.line)


# --- field checks ------------------------------------------------------------------------------------------


def require_text(row: Row, key: str, line: int, path: str, *, allow_empty: bool = False) -> str:
    """row[key] as a string; InputError when missing, not a string, or empty (unless allowed)."""
    if key not in row:
        raise InputError(f"the field '{key}' is missing", path=path, line=line)
    value = row[key]
    if not isinstance(value, str):
        raise InputError(f"'{key}' must be a string, not {_kind(value)}", path=path, line=line)
    if not allow_empty and not value.strip():
        raise InputError(f"'{key}' is empty: every response needs text; remove the record or fill it in",
                         path=path, line=line)
    return value


def require_content(row: Row, key: str, line: int, path: str, *, allow_empty: bool = False) -> str | Messages:
    """row[key] as a string or a list of chat messages ({"role": str, "content": str}), checked."""
    if key not in row:
        raise InputError(f"the field '{key}' is missing", path=path, line=line)
    value = row[key]
    if isinstance(value, str):
        return require_text(row, key, line, path, allow_empty=allow_empty)
    if not isinstance(value, list):
        raise InputError(f"'{key}' must be a string or a list of chat messages, not {_kind(value)}",
                         path=path, line=line)
    messages = check_messages(value, key, line, path)
    if not messages and not allow_empty:
        raise InputError(f"'{key}' is an empty list of messages: every response needs text", path=path, line=line)
    return messages


def check_messages(value: list[Any], key: str, line: int, path: str) -> Messages:
    """A list of {"role", "content"} string dicts, or an InputError naming the first bad message."""
    for i, message in enumerate(value, start=1):
        if not isinstance(message, dict):
            raise InputError(f"message {i} of '{key}' must be an object with 'role' and 'content', "
                             f"not {_kind(message)}", path=path, line=line)
        for field in ("role", "content"):
            if not isinstance(message.get(field), str):
                raise InputError(f"message {i} of '{key}' needs a string '{field}'", path=path, line=line)
    return value


def _kind(value: Any) -> str:
    """A JSON type name for messages ('a number', 'null', ...)."""
    if value is None:
        return "null"
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "a list",
             dict: "an object"}
    return names.get(type(value), type(value).__name__)


def extra_fields(row: Row, known: Iterable[str]) -> dict[str, Any]:
    """The row's columns this format does not interpret, kept so that an export writes them back."""
    skip = set(known)
    return {k: v for k, v in row.items() if k not in skip}


def check_distinct(chosen: Any, rejected: Any, line: int, path: str) -> None:
    if chosen == rejected:
        raise InputError("'chosen' and 'rejected' are the same: a pair needs two different responses; remove it",
                         path=path, line=line)


# --- writing -------------------------------------------------------------------------------------------------


def write_jsonl(rows: Iterable[Row], path: str | Path) -> int:
    """Write rows as UTF-8 JSON Lines through a temporary file, so a failed export never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write the file ({exc.strerror}): check the folder exists and is writable",
                         path=str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count
