"""Idempotency-Key: a retried request gets the first answer, and its effect happens once.

The answer is stored with the effect (in the same transaction where the effect is one
transaction), keyed by the caller and the key; the same key with another body is refused.
"""
from __future__ import annotations

import hashlib
import json

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.access.identity import Principal
from engine.core.clock import Clock
from engine.core.errors import FieldError, InvalidInput
from engine.core.models import IdempotencyRecord


def request_hash(*parts) -> str:
    """A stable hash of what the request asks for (hash identity numbers before they get here)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def replay(session: Session, principal: Principal, key: str | None, hashed: str) -> dict | None:
    """The answer given to this key before, or None; InvalidInput if the key came with another request."""
    if not key:
        return None
    prior = session.get(IdempotencyRecord, (principal.user, key))
    if prior is None:
        return None
    if prior.request_hash != hashed:
        raise InvalidInput("this Idempotency-Key was used for a different request",
                           [FieldError("/headers/Idempotency-Key", "reused with another body")])
    return prior.response


def remember(session: Session, clock: Clock, principal: Principal, key: str | None, hashed: str,
             response: dict) -> None:
    """Keep the answer for retries of `key` (in the caller's transaction)."""
    if key:
        session.add(IdempotencyRecord(principal=principal.user, key=key, request_hash=hashed, response=response,
                                      created_at=clock.now()))


def remember_alone(session: Session, clock: Clock, principal: Principal, key: str | None, hashed: str,
                   response: dict) -> None:
    """`remember` in a transaction of its own (for work that commits in parts); the first answer wins a race."""
    remember(session, clock, principal, key, hashed, response)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
