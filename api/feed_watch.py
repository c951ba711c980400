"""One watcher per server process tells every waiting long-poll when the feed has moved on.

A long-poll does not look at the database itself while it waits: one task looks (numbering what
has committed, then reading the highest position) every `interval` seconds while anyone waits,
and wakes the waiters when the position grows. So a hundred waiting clients cost one look per
interval, not a hundred, and no thread.
"""
from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from engine.integration import outbox


class FeedWatch:
    """Highest feed position seen, and a condition the waiters wait on."""

    def __init__(self, session_factory, interval: float = 0.2):
        self.session_factory, self.interval = session_factory, interval
        self.latest, self.waiters = 0, 0
        self._moved: asyncio.Condition | None = None
        self._task: asyncio.Task | None = None

    def _look(self) -> int:
        outbox.sequence(self.session_factory)
        with self.session_factory() as session:
            return outbox.highest_position(session)

    async def _watch(self) -> None:
        while self.waiters:
            latest = await run_in_threadpool(self._look)
            if latest != self.latest:
                self.latest = latest
                async with self._moved:
                    self._moved.notify_all()
            await asyncio.sleep(self.interval)
        self._task = None

    async def wait_past(self, position: int, timeout: float) -> None:
        """Return when the feed's highest position is past `position`, or after `timeout` seconds."""
        if self._moved is None:
            self._moved = asyncio.Condition()
        self.waiters += 1
        try:
            if self._task is None:
                self._task = asyncio.create_task(self._watch())
            async with self._moved:
                await asyncio.wait_for(self._moved.wait_for(lambda: self.latest > position), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            pass
        finally:
            self.waiters -= 1
