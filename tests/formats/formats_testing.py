"""Helpers shared by the format tests: write JSONL fixtures and catch the InputError a reader raises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workbench.core.errors import InputError


def write_rows(path: Path, rows: list[Any]) -> Path:
    """One JSON value per line (strings given as `str` are written raw, for malformed lines)."""
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def input_error(read: Any, path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        read(path)
    return info.value
