"""Messages in from agency systems, correlated to the waiting cases."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from engine.casework.messages import MessageService

from ..deps import CasesDep, PrincipalDep
from ..schemas import CorrelatedMessageIn, MessageDelivered

router = APIRouter(tags=["messages"])


@router.post("/messages", response_model=MessageDelivered)
def send_correlated_message(body: CorrelatedMessageIn, cases: CasesDep, principal: PrincipalDep,
                 idempotency_key: Annotated[str | None, Header(max_length=200, pattern=r"^[\x21-\x7e]+$")] = None):
    """Deliver a BPMN message to the one open case that `correlation` selects and that waits for it.

    The correlation names the case (`case_id`), the child (`barn`, `personnummer`) or a pupil of one
    school (`skola` with `elev`); `process_key` narrows. Only cases you may reach count: a client's
    `messages:PROCESS` processes, a person's own cases. 404 if none waits for the message; 409 if
    the correlation fits more than one, unless `all` is set (scope `messages-all:PROCESS`). With an
    `Idempotency-Key` header a retried request is answered as the first was, and the message is
    delivered once."""
    return MessageService(cases).send(principal, body.name, body.correlation, body.data, idempotency_key,
                                      to_all=body.all)
