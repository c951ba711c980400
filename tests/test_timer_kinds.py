"""Timer kinds beyond a plain duration: a fixed date (timeDate), a cycle with a count, a cycle from a start date."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from conftest import START
from factories import deployed, start_case
from test_timers import KOORDINATOR, at, history, open_tasks


def timers(client, case_id: str) -> list[dict]:
    return client.get(f"/cases/{case_id}/timers").json()


def test_a_time_date_timer_fires_at_its_date_by_the_engine_clock(server):
    deployed(server, "datum.bpmn")
    with server.client("kim", *KOORDINATOR) as kim:
        case = start_case(kim, "datum")
        [timer] = timers(kim, case["id"])
        due = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)  # 09:00 Swedish winter time
        assert at(timer["due_at"]) == due and timer["repeats"] is False and timer["kind"] == "intermediate"
        server.clock.set(due - timedelta(minutes=1))
        assert server.fire_timers() == [] and open_tasks(kim, case["id"], "hall_mote") == []
        server.clock.set(due)
        [fired] = server.fire_timers()
        assert fired.due_at == due and fired.lag_seconds == 0
        assert len(open_tasks(kim, case["id"], "hall_mote")) == 1 and timers(kim, case["id"]) == []
        server.clock.advance(timedelta(days=365))
        assert server.fire_timers() == [] and len(history(kim, case["id"], "timer_fired")) == 1


def test_a_cycle_with_a_count_fires_that_many_times_and_then_stops(server):
    deployed(server, "cykel_antal.bpmn")
    with server.client("kim", *KOORDINATOR) as kim:
        case = start_case(kim, "cykel_antal")
        [timer] = timers(kim, case["id"])
        assert timer["repeats"] and timer["expression"] == "R3/PT1H" and at(timer["due_at"]) == START + timedelta(hours=1)
        for hour in (1, 2, 3):
            server.clock.set(START + timedelta(hours=hour) - timedelta(seconds=1))
            assert server.fire_timers() == [], hour
            server.clock.set(START + timedelta(hours=hour))
            [fired] = server.fire_timers()
            assert fired.due_at == START + timedelta(hours=hour)
            assert len(open_tasks(kim, case["id"], "paminn")) == hour
        assert timers(kim, case["id"]) == [], "three times, then no more"
        server.clock.advance(timedelta(days=2))
        assert server.fire_timers() == []
        assert len(history(kim, case["id"], "timer_fired")) == 3 and history(kim, case["id"], "timer_failed") == []
        assert len(open_tasks(kim, case["id"], "arbete")) == 1, "the work goes on"


def test_a_cycle_with_a_start_date_waits_for_it_then_repeats_its_count(server):
    deployed(server, "cykel_startdag.bpmn")
    first = datetime(2026, 2, 2, 8, 0, tzinfo=timezone.utc)
    with server.client("kim", *KOORDINATOR) as kim:
        case = start_case(kim, "cykel_startdag")
        [timer] = timers(kim, case["id"])
        assert at(timer["due_at"]) == first, "the start date, not a period after the case started"
        server.clock.set(first - timedelta(minutes=1))
        assert server.fire_timers() == []
        server.clock.set(first)
        assert [f.due_at for f in server.fire_timers()] == [first]
        server.clock.set(first + timedelta(days=5))  # down for days: the one firing left comes, once
        assert [f.due_at for f in server.fire_timers()] == [first + timedelta(days=1)]
        assert server.fire_timers() == [] and timers(kim, case["id"]) == []
        assert len(open_tasks(kim, case["id"], "paminn")) == 2 and history(kim, case["id"], "timer_failed") == []
