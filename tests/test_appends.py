"""A step's append-only rows are written together (engine.core.appends): one statement on PostgreSQL, and on
both databases every row as queued, in the order queued, with its moments, dates and JSON intact."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm.exc import StaleDataError

from engine.core.appends import Appends
from engine.core.db import make_engine, make_session_factory
from engine.core.models import AccessLogEntry, Case, Event, ProcessVersion, ReportDaily

AT = datetime(2026, 3, 1, 7, 30, tzinfo=timezone(timedelta(hours=1)))  # a moment given in Swedish winter time


def test_queued_rows_are_written_in_order_with_their_values(db_url):
    engine = make_engine(db_url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: statements.append(statement))
    appends = Appends()
    appends.add(Event.__table__, [{"id": f"e{i}", "type": "se.samverka.task.created", "case_id": "c1",
                                   "process_key": "hlt", "time": AT, "data": {"n": i, "nested": {"ok": [1, "två"]}}}
                                  for i in range(3)])
    appends.add(AccessLogEntry.__table__, [{"at": AT, "user": "kim", "agency": None, "roles": ["ehm"],
                                            "client": "token", "case_id": "c1", "action": "write",
                                            "what": "task_completed"}])
    appends.add(ReportDaily.__table__, [{"process_key": "hlt", "measure": "sip", "day": date(2026, 3, 1),
                                         "unit": "Skolan", "agency": "skola", "process_version_id": 1, "detail": "",
                                         "outcome": "met", "value": 0, "count": 1}])
    appends.add(Event.__table__, [{"id": "e3", "type": "se.samverka.task.completed", "case_id": "c1",
                                   "process_key": "hlt", "time": AT, "data": {"n": 3}}])
    with make_session_factory(engine)() as session:
        statements.clear()
        appends.write(session)
        session.commit()
        writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "WITH"))]
        assert len(writes) == (1 if engine.dialect.name == "postgresql" else 3), writes
        assert not appends.rows, "written once"
        events = session.scalars(select(Event).order_by(Event.seq)).all()
        assert [e.id for e in events] == ["e0", "e1", "e2", "e3"]  # in the order queued, as the feed numbers them
        assert events[1].data == {"n": 1, "nested": {"ok": [1, "två"]}} and events[0].time == AT
        logged = session.scalars(select(AccessLogEntry)).one()
        assert (logged.user, logged.agency, logged.roles, logged.at) == ("kim", None, ["ehm"], AT)
        counted = session.scalars(select(ReportDaily)).one()
        assert (counted.day, counted.count, counted.folded) == (date(2026, 3, 1), 1, False)  # the column default


def test_nothing_queued_writes_nothing(db_url):
    engine = make_engine(db_url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: statements.append(statement))
    with make_session_factory(engine)() as session:
        Appends().write(session)
    assert statements == []


def a_case(session) -> Case:
    version = ProcessVersion(key="hlt", version=1, name="HLT", content_hash="0" * 64, files={}, deployed_at=AT,
                             deployed_by="agda")
    session.add(version)
    session.flush()
    case = Case(id="c1", process_key="hlt", process_version_id=version.id, status="open", data={"a": 1}, state="s0",
                serializer_version="1", created_at=AT, updated_at=AT, created_by="kim", version=1)
    session.add(case)
    session.commit()
    return case


def test_assigned_changes_are_written_with_the_version_check_and_leave_nothing_for_the_flush(db_url):
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        case = a_case(session)
        appends = Appends()
        appends.assign(session, case, {"state": "s1", "data": {"a": 1}, "updated_at": AT + timedelta(days=1)})
        assert case.state == "s1"
        if engine.dialect.name == "postgresql":
            assert case not in session.dirty, "the step's one statement writes them: the ORM's flush has nothing to do"
        case.status = "completed"  # an ordinary change in the same step, written in the same statement
        appends.update_versioned(session, case)
        session.flush()
        appends.write(session)
        session.commit()
    with make_session_factory(engine)() as session:
        stored = session.get(Case, "c1")
        assert (stored.state, stored.data, stored.status, stored.version) == ("s1", {"a": 1}, "completed", 2)
        assert stored.updated_at == AT + timedelta(days=1)


def test_assigned_changes_to_a_case_changed_meanwhile_are_refused(db_url):
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session, make_session_factory(engine)() as other:
        case = a_case(session)
        racer = other.get(Case, "c1")
        racer.state = "theirs"
        other.commit()
        appends = Appends()
        appends.assign(session, case, {"state": "mine"})
        with pytest.raises(StaleDataError):
            appends.update_versioned(session, case)
            session.flush()
            appends.write(session)
        session.rollback()
        assert session.get(Case, "c1").state == "theirs"
