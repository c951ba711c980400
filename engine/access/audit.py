"""The access log (loggning enligt PDL/HSLF-FS 2016:40 as the standard): every read and write of case data.

Rows are written in the transaction of the access they record, so a write that is rolled back
leaves none. A refused attempt on an existing case is written right after its rolled-back
transaction, so it stays. The table refuses UPDATE and DELETE at
the database (triggers from migration 0006), so not even the application can change it.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.identity import Principal
from engine.core.clock import Clock
from engine.core.models import AccessLogEntry
from engine.core.paging import Page, keyset_page

REGISTRAR_ROLE = "registrator"
_REFUSED = "samverka.refused_attempts"


def _entries(clock: Clock, principal: Principal, case_ids: Iterable[str | None], action: str,
             what: str) -> list[AccessLogEntry]:
    now, roles = clock.now(), sorted(principal.role_ids)
    return [AccessLogEntry(at=now, user=principal.user, agency=principal.agency, roles=roles,
                           client=principal.client[:200], case_id=case_id, action=action, what=what[:200])
            for case_id in dict.fromkeys(case_ids)]


def record(session: Session, clock: Clock, principal: Principal, case_ids: Iterable[str | None], action: str,
           what: str) -> None:
    """One row per case for an access by `principal` (`action` read, write, refused or cull)."""
    session.add_all(_entries(clock, principal, case_ids, action, what))


def record_refused(session: Session, clock: Clock, principal: Principal, case_id: str, what: str) -> None:
    """A `refused` row for an attempt on an existing case. The request's transaction is rolled back
    with the refusal, so the row waits on the session for `write_refused`, which the transaction's
    owner calls once it has ended."""
    session.info.setdefault(_REFUSED, []).extend(_entries(clock, principal, [case_id], "refused", what))


def write_refused(session: Session) -> None:
    """Commit the refused attempts noted during the transaction that just ended."""
    rows = session.info.pop(_REFUSED, [])
    if rows:
        session.add_all(rows)
        session.commit()


def for_cases(session: Session, case_ids: list[str], cursor: str | None, limit: int) -> Page:
    """The access log of some cases, oldest first."""
    return keyset_page(session, select(AccessLogEntry).where(AccessLogEntry.case_id.in_(case_ids)), None,
                       AccessLogEntry.id, cursor, limit)
