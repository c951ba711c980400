"""The engine clock: the one place the engine reads time from (timers, due dates, history)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol


def as_utc(moment: datetime) -> datetime:
    """A stored moment with its zone: SQLite hands datetimes back without one, and they are stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that only moves when told to: for tests and simulations."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime.now(timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` and return the new time."""
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to `when` (timezone-aware)."""
        with self._lock:
            self._now = when


class TrainingClock:
    """System time plus an offset a process owner may move forward: a training deployment only."""

    def __init__(self):
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(timezone.utc) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` (never back: timers that fired stay fired)."""
        with self._lock:
            self._offset += delta
        return self.now()
