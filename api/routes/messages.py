"""Messages in from agency systems, correlated to the waiting cases."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from engine.casework.messages import MessageService

from ..deps import CasesDep, PrincipalDep
from ..schemas import CorrelatedMessageIn, MessageDelivered

router = APIRouter(tags=["messages"])


@router.post("/messages", response_model=MessageDelivered)
def send_message(body: CorrelatedMessageIn, cases: CasesDep, principal: PrincipalDep,
                 idempotency_key: Annotated[str | None, Header(max_length=200, pattern=r"^[\x21-\x7e]+$")] = None):
    """Deliver a BPMN message to every open case that matches `correlation` and waits for it.

    With an `Idempotency-Key` header a retried request is answered as the first was, and the
    message is delivered once. 404 if no matching case waits for the message."""
    return MessageService(cases).send(principal, body.name, body.correlation, body.data, idempotency_key)
