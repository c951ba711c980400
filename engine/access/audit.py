"""The access log (loggning enligt PDL/HSLF-FS 2016:40 as the standard): every read and write of case data.

Rows are written in the transaction of the access they record, so a write that is rolled back
leaves none. A refused attempt on an existing case is written right after its rolled-back
transaction, so it stays. The table refuses UPDATE and DELETE at
the database (triggers from migration 0006), so not even the application can change it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.access.identity import Principal
from engine.core.appends import Appends
from engine.core.clock import Clock
from engine.core.models import AccessLogCase, AccessLogEntry, CaseParticipant
from engine.core.paging import Page, keyset_page

REGISTRAR_ROLE = "registrator"
_REFUSED = "samverka.refused_attempts"


@dataclass(frozen=True)
class LogRow:
    """An access-log row as one reader sees it: `case_ids` are the cases it named that the reader asked about."""

    id: int
    at: datetime
    user: str
    agency: str | None
    roles: list
    client: str
    case_id: str | None
    case_ids: list[str]
    action: str
    what: str


def _entries(clock: Clock, principal: Principal, case_ids: Iterable[str | None], action: str,
             what: str) -> list[AccessLogEntry]:
    """One row for the access, however many cases it touched: a single case in `case_id`, several named
    in `access_log_case` (a list read); none for a list read that found no case. `[None]` is an access of
    no case at all (a SCIM change to the directory), kept as one row without a case."""
    given = list(dict.fromkeys(case_ids))
    ids = [c for c in given if c is not None]
    if not given:
        return []
    entry = AccessLogEntry(at=clock.now(), user=principal.user, agency=principal.agency,
                           roles=sorted(principal.role_ids), client=principal.client[:200],
                           case_id=ids[0] if len(ids) == 1 else None, action=action, what=what[:200])
    entry.named = [AccessLogCase(case_id=c) for c in ids] if len(ids) > 1 else []
    return [entry]


def record(session: Session, clock: Clock, principal: Principal, case_ids: Iterable[str | None], action: str,
           what: str) -> None:
    """One row for an access by `principal` to some cases (`action` read, write, refused or cull)."""
    session.add_all(_entries(clock, principal, case_ids, action, what))


_TABLE = AccessLogEntry.__table__


def record_one(appends: Appends, clock: Clock, principal: Principal, case_id: str, action: str, what: str) -> None:
    """`record` for one case, queued with the step's other append-only rows (engine.core.appends)."""
    appends.add(_TABLE, [{
        "at": clock.now(), "user": principal.user, "agency": principal.agency, "roles": sorted(principal.role_ids),
        "client": principal.client[:200], "case_id": case_id, "action": action, "what": what[:200]}])


def record_refused(session: Session, clock: Clock, principal: Principal, case_id: str, what: str) -> None:
    """A `refused` row for an attempt on an existing case. The request's transaction is rolled back
    with the refusal, so the row waits on the session for `write_refused`, which the transaction's
    owner calls once it has ended."""
    session.info.setdefault(_REFUSED, []).extend(_entries(clock, principal, [case_id], "refused", what))


def has_refused(session: Session) -> bool:
    """Whether refused attempts wait to be written when the session's transaction ends."""
    return bool(session.info.get(_REFUSED))


def write_refused(session: Session) -> None:
    """Commit the refused attempts noted during the transaction that just ended."""
    rows = session.info.pop(_REFUSED, [])
    if rows:
        session.add_all(rows)
        session.commit()


def cases_of_agency(session: Session, agency: str | None, case_ids: list[str]) -> list[str]:
    """Those of `case_ids` that `agency` takes or took part in: it holds a seat, or someone of it wrote to the
    case (a participant since removed). A registrar keeps the log of their own agency's cases only."""
    if not agency or not case_ids:
        return []
    seated = select(CaseParticipant.case_id).where(CaseParticipant.case_id.in_(case_ids),
                                                   CaseParticipant.agency == agency)
    wrote = select(AccessLogEntry.case_id).where(AccessLogEntry.case_id.in_(case_ids), AccessLogEntry.agency == agency,
                                                 AccessLogEntry.action == "write")
    found = set(session.scalars(seated.union(wrote)))
    return [c for c in case_ids if c in found]


def for_cases(session: Session, case_ids: list[str], cursor: str | None, limit: int) -> Page:
    """The access log of some cases, oldest first: the rows about one of them and the list reads that named
    one, each showing only the cases asked about (a list row does not tell this reader what else it named)."""
    named = select(AccessLogCase.entry_id).where(AccessLogCase.case_id.in_(case_ids))
    query = select(AccessLogEntry).where(or_(AccessLogEntry.case_id.in_(case_ids), AccessLogEntry.id.in_(named)))
    page = keyset_page(session, query, None, AccessLogEntry.id, cursor, limit)
    lists = [e.id for e in page.items if e.case_id is None]
    names: dict[int, list[str]] = {}
    if lists:
        for entry_id, case_id in session.execute(
                select(AccessLogCase.entry_id, AccessLogCase.case_id).where(
                    AccessLogCase.entry_id.in_(lists), AccessLogCase.case_id.in_(case_ids))
                .order_by(AccessLogCase.entry_id, AccessLogCase.case_id)):
            names.setdefault(entry_id, []).append(case_id)
    rows = []
    for e in page.items:
        shown = names.get(e.id, []) if e.case_id is None else [e.case_id]
        rows.append(LogRow(e.id, e.at, e.user, e.agency, e.roles, e.client, shown[0] if shown else None, shown,
                           e.action, e.what))
    return Page(rows, page.next_cursor)
