"""Human case numbers: one series per process and year, `HLT-2026-0042`, beside the case's id."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
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
    last = session.execute(update(CaseNumberCounter)
                           .where(CaseNumberCounter.process_key == process_key, CaseNumberCounter.year == year)
                           .values(last=CaseNumberCounter.last + 1).returning(CaseNumberCounter.last)).scalar()
    if last is None:
        session.add(CaseNumberCounter(process_key=process_key, year=year, last=1))
        session.flush()
        last = 1
    return f"{prefix(process_key)}-{year}-{last:04d}"

