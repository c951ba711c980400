"""Human case numbers: one series per process and year, `HLT-2026-0042`, beside the case's id."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.core.calendar import STOCKHOLM
from engine.core.models import CaseNumberCounter

PREFIXES = {"hlt": "HLT", "vastbas": "VB", "skolfranvaro": "SF"}


def prefix(process_key: str) -> str:
    """The series' letters: a short code for the three processes, the key in capitals for others."""
    return PREFIXES.get(process_key, process_key.upper()[:12])


def next_number(session: Session, process_key: str, at: datetime) -> str:
    """The next number of `process_key`'s series for the Swedish calendar year of `at`, in the caller's transaction."""
    year = at.astimezone(STOCKHOLM).year
    # The counter row is updated in place, so two starts at once queue on its row lock and never share a number.
    # The series' first start creates the row with "do nothing on conflict": a start racing it waits for that
    # insert's transaction and then counts on in the same row, instead of failing on the duplicate key.
    bump = (update(CaseNumberCounter)
            .where(CaseNumberCounter.process_key == process_key, CaseNumberCounter.year == year)
            .values(last=CaseNumberCounter.last + 1).returning(CaseNumberCounter.last))
    last = session.execute(bump).scalar()
    if last is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        last = session.execute(insert(CaseNumberCounter).values(process_key=process_key, year=year, last=1)
                               .on_conflict_do_nothing().returning(CaseNumberCounter.last)).scalar()
        if last is None:  # the racer's row, now committed: count on in it
            last = session.execute(bump).scalar()
    return f"{prefix(process_key)}-{year}-{last:04d}"

