"""The event feed: CloudEvents after a cursor, for integrators that pull."""
from __future__ import annotations

import re
import contextlib
import time
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from engine.access.policy import event_processes
from engine.core.errors import FieldError, InvalidInput, TooMany
from engine.integration import outbox

from ..deps import PrincipalDep, SessionDep
from ..schemas import INT32_MAX, CloudEventOut, EventPage

router = APIRouter(tags=["events"])


MAX_WAITS = 4  # long-polls one client may have open at once, per server process


def _look(session_factory, after: int, wanted, limit: int, processes) -> tuple[int, list[dict]]:
    """One look at the feed, in a session of its own: number what has committed, then read after `after`.
    Also the feed's highest position before reading, so a waiter knows what it has seen."""
    outbox.sequence(session_factory)
    with session_factory() as session:
        highest = outbox.highest_position(session)
        return highest, [{"position": e.position, **outbox.cloudevent(e)}
                         for e in outbox.feed(session, after, wanted, limit, processes)]


_TYPE = "(?:" + "|".join(re.escape(t) for t in outbox.EVENT_TYPES) + ")"
TYPES_PATTERN = rf"^\s*{_TYPE}(?:\s*,\s*{_TYPE})*\s*$"


@router.get("/events", response_model=EventPage)
async def events(request: Request, session: SessionDep, principal: PrincipalDep,
                 after: Annotated[int, Query(ge=0, le=INT32_MAX,
                                             description="The cursor you were given; 0 for the beginning")] = 0,
                 types: Annotated[str | None, Query(max_length=2000, pattern=TYPES_PATTERN,
                                                    description="Comma-separated event types")] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 wait: Annotated[float, Query(ge=0, le=30, description="Long-poll: seconds to wait for new events")] = 0):
    """Events after `after`, oldest first (an integration client with the scope `events`, or `events:PROCESS`
    for one process's events). Replaying from an old cursor gives the same events.

    A long-poll (`wait`) holds neither a thread nor a database connection while it waits; a client may
    have four open at once (429 beyond that)."""
    processes = event_processes(principal)
    wanted = [t.strip() for t in types.split(",") if t.strip()] if types else None
    unknown = sorted(set(wanted or []) - set(outbox.EVENT_TYPES))
    if unknown:
        raise InvalidInput("unknown event types", [FieldError("/types", f"unknown: {', '.join(unknown)}")])
    await run_in_threadpool(session.rollback)  # the caller is known: give the connection back while waiting
    state, who = request.app.state, principal.client + ":" + principal.user
    waits: Counter = state.feed_waits
    if wait and waits[who] >= MAX_WAITS:
        raise TooMany(f"this client already has {MAX_WAITS} long-polls open; wait for one to answer")
    waits[who] += 1 if wait else 0
    try:
        deadline = time.monotonic() + wait
        # No database slot held while it waits either.
        async with state.admission.aside(request.scope) if wait else contextlib.nullcontext():
            found = await _wait_for(state, after, wanted, limit, processes, deadline)
    finally:
        waits[who] -= 1 if wait else 0
    return EventPage(items=[CloudEventOut(**{k: v for k, v in e.items() if k != "position"}) for e in found],
                     next_cursor=str(found[-1]["position"] if found else after))


async def _wait_for(state, after: int, wanted, limit: int, processes, deadline: float) -> list[dict]:
    """The events after `after`, looking again each time the feed moves, until some are found or `deadline`."""
    while True:
        seen, found = await run_in_threadpool(_look, state.session_factory, after, wanted, limit, processes)
        left = deadline - time.monotonic()
        if found or left <= 0:
            return found
        # Woken when the feed moves past what this look saw (events of other types or processes move it too).
        await state.feed_watch.wait_past(seen, left)
