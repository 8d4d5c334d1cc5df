"""The self-test's report: one `Check` per line, printed with ✓/✗ (or OK/FAIL on a legacy console), and the small
helpers the checks share (the tail of a child's stderr, fd 2 redirected for a child's lifetime)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Check:
    """One line of the report: `advice` says what to do when `ok` is False."""

    name: str
    ok: bool
    seconds: float
    detail: str
    advice: str = ""


def tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)


def log_tail(path: Path, lines: int = 6) -> str:
    return tail(path.read_text(encoding="utf-8", errors="replace"), lines) if path.exists() else ""


@contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at `path` while a child process is started (it inherits fd 2), then restore it."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
    except OSError:  # a windowed Windows process may have no fd 2: the child then gets none either
        yield
        return
    try:
        with open(path, "ab") as fh:
            os.dup2(fh.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _marks() -> tuple[str, str]:
    """✓/✗ when the console can print them (a Windows code page may not), else OK/FAIL."""
    try:
        "✓✗".encode(sys.stdout.encoding or "ascii")
        return "✓", "✗"
    except (UnicodeEncodeError, LookupError):
        return "OK", "FAIL"


def format_check(check: Check) -> str:
    good, bad = _marks()
    head = f"{good if check.ok else bad} {check.name:<44} {check.seconds:6.1f} s"
    lines = [head] + [f"    {line}" for line in check.detail.splitlines()]
    if not check.ok and check.advice:
        lines.append(f"    what to do: {check.advice}")
    return "\n".join(lines)
