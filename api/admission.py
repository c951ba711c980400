"""Admission: at most a few requests of one server process work on the database at once.

A request takes a slot when its transaction opens (api.deps) and gives it back when the transaction has ended;
the others wait in the event loop, holding neither a worker thread nor a connection. Without this, every request
that arrives runs at once in the thread pool: thirty-two threads then share one interpreter lock, and each hand-over
between them costs CPU that does no work (measured: 8 ms of a 19 ms completion at 32 clients, issue 19). With
few slots per process and a process per core or two, the cores do the steps instead; a burst queues, first come
first served, and a connection pool the size of the slots is enough.

A request that waits for something other than the database (a long-poll) steps aside: it gives its slot back
while it waits and queues again for it before it goes on.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import anyio
from prometheus_client import Gauge

WAITING = Gauge("samverka_admission_waiting", "Requests of this process waiting for a database slot")
_HELD = "samverka_admission_held"


class Admission:
    """`slots` requests at a time; the rest wait in arrival order."""

    def __init__(self, slots: int):
        self.slots = slots
        self._semaphore = anyio.Semaphore(slots)

    async def _take(self, scope: dict) -> None:
        """Wait in turn for a slot and mark the request of `scope` as holding it (not if cancelled meanwhile)."""
        WAITING.inc()
        try:
            await self._semaphore.acquire()
        finally:
            WAITING.dec()
        scope[_HELD] = True

    @asynccontextmanager
    async def slot(self, scope: dict) -> AsyncIterator[None]:
        """Hold one slot for the request of `scope` (an ASGI scope) while the block runs."""
        await self._take(scope)
        try:
            yield
        finally:
            if scope.pop(_HELD, False):
                self._semaphore.release()

    @asynccontextmanager
    async def aside(self, scope: dict) -> AsyncIterator[None]:
        """Give the request's slot back while the block waits; take one again (in turn) after it."""
        held = scope.pop(_HELD, False)
        if held:
            self._semaphore.release()
        try:
            yield
        finally:
            if held:  # cancelled while queueing again: nothing is held, so `slot` releases nothing
                await self._take(scope)
