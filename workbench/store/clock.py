"""Time stamps of the project file: stored as naive UTC (SQLite has no time zones), returned as aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as the naive UTC value written to the file."""
    return datetime.now(UTC).replace(tzinfo=None)


def aware(value: datetime | None) -> datetime | None:
    """A stored naive-UTC time as an aware datetime, so callers can compare and localise it safely."""
    return None if value is None else value.replace(tzinfo=UTC)
