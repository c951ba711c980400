"""The event feed: CloudEvents after a cursor, for integrators that pull."""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request

from engine.access.policy import event_processes
from engine.core.errors import FieldError, InvalidInput
from engine.integration import outbox

from ..deps import PrincipalDep, SessionDep
from ..schemas import INT32_MAX, CloudEventOut, EventPage

router = APIRouter(tags=["events"])


@router.get("/events", response_model=EventPage)
def events(request: Request, session: SessionDep, principal: PrincipalDep,
           after: Annotated[int, Query(ge=0, le=INT32_MAX, description="The cursor you were given; 0 for the beginning")] = 0,
           types: Annotated[str | None, Query(max_length=2000, description="Comma-separated event types")] = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100,
           wait: Annotated[float, Query(ge=0, le=30, description="Long-poll: seconds to wait for new events")] = 0):
    """Events after `after`, oldest first (an integration client with the scope `events`, or `events:PROCESS`
    for one process's events). Replaying from an old cursor gives the same events."""
    processes = event_processes(principal)
    wanted = [t.strip() for t in types.split(",") if t.strip()] if types else None
    unknown = sorted(set(wanted or []) - set(outbox.EVENT_TYPES))
    if unknown:
        raise InvalidInput("unknown event types", [FieldError("/types", f"unknown: {', '.join(unknown)}")])
    deadline = time.monotonic() + wait
    while True:
        outbox.sequence(request.app.state.session_factory)  # number what has committed since the last look
        found = outbox.feed(session, after, wanted, limit, processes)
        if found or time.monotonic() >= deadline:
            break
        session.rollback()  # a fresh snapshot for the next look
        time.sleep(0.2)
    return EventPage(items=[CloudEventOut(**outbox.cloudevent(e)) for e in found],
                     next_cursor=str(found[-1].position if found else after))
