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


def claim(session: Session, clock: Clock, principal: Principal, key: str | None, hashed: str) -> dict | None:
    """Take `key` before doing the work; the first answer if a concurrent request with the key took it first.

    The record is inserted at once (its answer filled in by `remember`), so a second request with the key waits
    on it until the first commits, then fails to insert and replays the first answer instead of doing the work
    again (on SQLite, which has one writer, the second is refused as busy: a 409)."""
    if not key:
        return None
    try:
        with session.begin_nested():
            session.add(IdempotencyRecord(principal=principal.user, key=key, request_hash=hashed, response={},
                                          created_at=clock.now()))
    except IntegrityError:
        return replay(session, principal, key, hashed)
    return None


def remember(session: Session, clock: Clock, principal: Principal, key: str | None, hashed: str,
             response: dict) -> None:
    """Keep the answer for retries of `key` (in the caller's transaction), in the record `claim` took if any."""
    if not key:
        return
    claimed = session.get(IdempotencyRecord, (principal.user, key))
    if claimed is not None:
        claimed.response = response
    else:
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
