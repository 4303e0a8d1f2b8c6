"""Injected time: the ledger never reads the wall clock directly."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Protocol

from .errors import MalformedInput

_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

__all__ = ["CST", "Clock", "FixedClock", "SystemClock", "format_time", "local_date", "parse_time"]

CST = timezone(timedelta(hours=8), "CST")
"""China Standard Time: the calendar of dates the rules judge (policy effective dates, listings)."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A test clock that moves only when told to (``tick``) or by ``step`` per reading."""

    def __init__(self, start: datetime, step: timedelta = timedelta(0)) -> None:
        self._now = start
        self._step = step

    def now(self) -> datetime:
        current = self._now
        self._now += self._step
        return current

    def tick(self, delta: timedelta) -> None:
        self._now += delta


def format_time(t: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a ``Z``: the only form entries carry."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_time(s: str) -> datetime:
    """Parse the entry time form; MalformedInput otherwise."""
    if not isinstance(s, str) or not _TIME.fullmatch(s):
        raise MalformedInput(f"time {s!r:.40} is not YYYY-MM-DDTHH:MM:SS.mmmZ (UTC)")
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        raise MalformedInput(f"time {s!r} is not a valid date and time") from None


def local_date(when: datetime) -> date:
    """The calendar date in China Standard Time of an entry time."""
    return when.astimezone(UTC).astimezone(CST).date()
