"""The daily report counts: a step adds rows of its own, so no step waits on another's; folding keeps the sums."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text

from engine.casework import report_counts
from engine.casework.report_facts import NO_VALUE, count_daily
from engine.core.appends import Appends
from engine.core.db import make_engine, make_session_factory
from engine.core.models import ReportDaily



def counted(session, deltas: dict) -> None:
    """What a step does with its day counts: queue them with its append-only rows, then write those."""
    appends = Appends()
    count_daily(appends, deltas)
    appends.write(session)

def key(day: int, outcome: str = "met", unit: str = "Skolan i Höör") -> tuple:
    return ("hlt", "hlt_sip", date(2026, 2, day), unit, "skola", 1, "", outcome, NO_VALUE)


def sums(sessions) -> dict[tuple, int]:
    with sessions() as session:
        columns = [getattr(ReportDaily, name) for name in report_counts.KEY]
        return {tuple(row[:-1]): row[-1] for row in session.execute(
            select(*columns, func.sum(ReportDaily.count)).group_by(*columns)).all() if row[-1]}


def test_a_step_counting_a_day_does_not_wait_for_another_step_still_in_its_transaction(pg_url):
    sessions = make_session_factory(make_engine(pg_url))
    with sessions() as first, sessions() as second:
        counted(first, {key(1): 1})  # a step that has counted and not yet committed (or whose worker stopped)
        first.flush()
        second.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting on the first would fail, not hang
        counted(second, {key(1): 1, key(2, "missed"): 1})
        second.commit()
        first.commit()
    assert sums(sessions) == {key(1): 2, key(2, "missed"): 1}


def test_folding_leaves_one_row_per_key_and_every_sum_as_it_was(db_url):
    sessions = make_session_factory(make_engine(db_url))
    for deltas in ({key(1): 1}, {key(1): 1, key(2): 1}, {key(1): 1, key(2): -1, key(3, unit="Norra skolan"): 1}):
        with sessions() as session:  # three steps, each adding its own rows
            counted(session, deltas)
            session.commit()
    before = sums(sessions)
    assert before == {key(1): 3, key(3, unit="Norra skolan"): 1}
    assert report_counts.fold(sessions, limit=2) == 2  # a bounded bite, then the rest
    assert sums(sessions) == before
    while report_counts.fold(sessions):
        pass
    with sessions() as session:
        counted(session, {key(1): 1})  # a later step adds to a folded key
        session.commit()
    assert report_counts.fold(sessions) == 2  # its row and the key's folded one
    assert sums(sessions) == {**before, key(1): 4}
    with sessions() as session:
        rows = session.execute(select(ReportDaily.folded, func.count()).group_by(ReportDaily.folded)).all()
    assert rows == [(True, 2)], "one folded row per key with a count; the key that summed to 0 is gone"
