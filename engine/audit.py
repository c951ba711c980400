"""The access log (loggning enligt PDL/HSLF-FS 2016:40 as the standard): every read and write of case data.

Rows are written in the transaction of the access they record, so a read that fails leaves no
row and a write that is rolled back leaves none either. The table refuses UPDATE and DELETE at
the database (triggers from migration 0006), so not even the application can change it.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import Clock
from .identity import Principal
from .models import AccessLogEntry
from .paging import Page, keyset_page

REGISTRAR_ROLE = "registrator"


def record(session: Session, clock: Clock, principal: Principal, case_ids: Iterable[str | None], action: str,
           what: str) -> None:
    """One row per case for an access by `principal` (`action` read, write or cull)."""
    now = clock.now()
    roles = sorted(principal.role_ids)
    session.add_all([AccessLogEntry(at=now, user=principal.user, agency=principal.agency, roles=roles,
                                    client=principal.client[:200], case_id=case_id, action=action, what=what[:200])
                     for case_id in dict.fromkeys(case_ids)])


def for_case(session: Session, case_id: str, cursor: str | None, limit: int) -> Page:
    """The case's access log, oldest first."""
    return keyset_page(session, select(AccessLogEntry).where(AccessLogEntry.case_id == case_id), None,
                       AccessLogEntry.id, cursor, limit)
