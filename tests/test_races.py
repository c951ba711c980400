"""Races, made to happen rather than hoped for: on PostgreSQL a test holds a row lock until both racers are
waiting on it, then lets them go. Whatever the order, the answers are a success and a 409 (or the first answer
again), never a 500, and the effect happens once."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import pytest
from factories import complete, do, start_case
from forms_data import person
from sqlalchemy import text
from test_hlt import HLT_MOTET

from engine.casework.retention import Culler
from engine.core.db import make_engine

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
WAITING = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"


@contextmanager
def holding(db_url: str, lock_sql: str, **params):
    """Hold the row lock `lock_sql` takes; `release()` (or the end of the block) lets the waiters go."""
    engine = make_engine(db_url)
    connection = engine.connect()
    connection.execute(text(lock_sql), params).all()
    try:
        yield connection
    finally:
        connection.rollback()
        connection.close()
        engine.dispose()


def wait_for_waiters(lock: "object", count: int) -> None:
    """Until `count` sessions wait on a lock (asked on the holder's connection: its statistics snapshot is
    cleared each time, as inside a transaction it would not change)."""
    deadline = time.monotonic() + 60
    while lock.execute(text("SELECT pg_stat_clear_snapshot()")) and lock.execute(text(WAITING)).scalar_one() < count:
        assert time.monotonic() < deadline, "the racers never reached the lock"
        time.sleep(0.02)


def race(db_url: str, lock_sql: str, params: dict, *calls):
    """Run `calls` at once, all held at the lock until every one waits on it; their responses."""
    with ThreadPoolExecutor(len(calls)) as pool:
        with holding(db_url, lock_sql, **params) as lock:
            futures = [pool.submit(call) for call in calls]
            wait_for_waiters(lock, len(calls))
        return [f.result() for f in futures]


CASE_LOCK = 'SELECT id FROM "case" WHERE id = :case_id FOR UPDATE'
AKTUALISERING = {"aktualiserad_av": person("lisa"), "akut": False, "behov": "Oro", "tas_upp": True}  # HLT's first task
WAITING_AS = ("SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
              "AND datname = current_database()")


def waiting_as(lock) -> list[str]:
    """The connections waiting on a lock, by application name, once some wait and none is the event loop's (a
    statement there gives up after step_lock_wait_ms: one seen waiting a moment ago is on its way to a thread)."""
    deadline = time.monotonic() + 10
    while True:
        lock.execute(text("SELECT pg_stat_clear_snapshot()"))
        names = lock.execute(text(WAITING_AS)).scalars().all()
        if (names and "samverka-loop" not in names) or time.monotonic() > deadline:
            return names
        time.sleep(0.02)


def test_two_requests_with_the_same_idempotency_key_at_once_get_one_answer_and_one_effect(product, db_url):
    with product.client("hugo", *HLT_MOTET) as hugo, \
            product.client("nora", "integrator", scopes=("messages:hlt",)) as a, \
            product.client("nora", "integrator", scopes=("messages:hlt",)) as b:
        case_id = start_case(hugo, "hlt")["id"]
        message = {"name": "samtycke_aterkallat", "correlation": {"case_id": case_id}}
        send = lambda client: lambda: client.post("/messages", json=message, headers={"Idempotency-Key": "k-1"})  # noqa: E731
        first, second = race(db_url, CASE_LOCK, {"case_id": case_id}, send(a), send(b))
        assert [first.status_code, second.status_code] == [200, 200], (first.text, second.text)
        assert first.json() == second.json() == {"name": "samtycke_aterkallat", "delivered_to": [case_id]}
        history = hugo.get(f"/cases/{case_id}/history").json()["items"]
        assert [h["event"] for h in history].count("message_received") == 1, "delivered once"


def _a_task_with_two_seat_holders(product, hugo, hilda) -> tuple[str, str]:
    """An HLT case whose first task two key persons may take: the school's (who started it) and social services'."""
    case = start_case(hugo, "hlt")
    return case["id"], case["open_tasks"][0]["id"]


def test_two_holders_of_an_open_seat_claiming_at_once_one_gets_it(product, db_url):
    with product.client("hugo", *HLT_MOTET) as hugo, product.client("hilda", *HLT_MOTET, agency="socialtjanst") as hilda:
        case_id, task_id = _a_task_with_two_seat_holders(product, hugo, hilda)
        claims = race(db_url, CASE_LOCK, {"case_id": case_id},
                      lambda: hugo.post(f"/tasks/{task_id}/claim"), lambda: hilda.post(f"/tasks/{task_id}/claim"))
        assert sorted(r.status_code for r in claims) == [200, 409], [r.text for r in claims]
        [won] = [r.json()["assignee"] for r in claims if r.status_code == 200]
        assert hugo.get(f"/tasks/{task_id}").json()["assignee"] == won, "the winner holds it, as they were told"


def test_a_claim_racing_a_completion_leaves_one_consistent_outcome(product, db_url):
    with product.client("hugo", *HLT_MOTET) as hugo, product.client("hilda", *HLT_MOTET, agency="socialtjanst") as hilda:
        case_id, task_id = _a_task_with_two_seat_holders(product, hugo, hilda)
        completed, claimed = race(db_url, CASE_LOCK, {"case_id": case_id},
                                  lambda: hugo.post(f"/tasks/{task_id}/complete", json={"data": AKTUALISERING}),
                                  lambda: hilda.post(f"/tasks/{task_id}/claim"))
        assert sorted([completed.status_code, claimed.status_code]) == [200, 409], (completed.text, claimed.text)
        task = hugo.get(f"/tasks/{task_id}").json()
        if completed.status_code == 200:
            assert task["state"] == "completed" and task["assignee"] == "hugo"
        else:
            assert task["state"] == "open" and task["assignee"] == "hilda"


def test_a_completion_of_a_case_another_transaction_changes_first_answers_409_and_changes_nothing(product, db_url):
    # The case's UPDATE, with its version check, is part of the step's one write statement (engine.core.appends).
    with product.client("hugo", *HLT_MOTET) as hugo:
        case = start_case(hugo, "hlt")
        task_id = case["open_tasks"][0]["id"]
        engine = make_engine(db_url)
        try:
            with engine.connect() as other, ThreadPoolExecutor(1) as pool:
                other.execute(text('UPDATE "case" SET version = version + 1 WHERE id = :id'), {"id": case["id"]})
                answer = pool.submit(hugo.post, f"/tasks/{task_id}/complete", json={"data": AKTUALISERING})
                assert waiting_as(other) == ["samverka"]  # in a thread: the step on the loop gave up and began again
                other.commit()  # the other change lands first; the completion read the version before it
                answer = answer.result()
        finally:
            engine.dispose()
        assert answer.status_code == 409, answer.text
        assert "changed by someone else" in answer.json()["detail"]
        after = hugo.get(f"/cases/{case['id']}").json()
        assert [t["id"] for t in after["open_tasks"]] == [task_id], "the task is still open"
        history = hugo.get(f"/cases/{case['id']}/history").json()["items"]
        assert "task_completed" not in [h["event"] for h in history], "nothing of the step was written"
        assert complete(hugo, task_id, **AKTUALISERING).status_code == 200, "and a retry completes it"


def test_two_cullers_at_once_cull_each_due_case_once(product, db_url):
    with product.client("hugo", *HLT_MOTET) as hugo:
        closed = []
        for _ in range(6):
            case_id = start_case(hugo, "hlt")["id"]
            do(hugo, case_id, "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": "Oro",
                                                "tas_upp": False, "hanvisning": "BUP"})
            closed.append(case_id)
            product.clock.advance(timedelta(minutes=1))
    product.clock.advance(timedelta(days=product.settings.retention_days))
    state = product.app.state
    first, second = (Culler(state.session_factory, product.clock, product.settings.retention_days, batch_size=2)
                     for _ in range(2))
    # The first culler takes the two oldest cases and is held inside its transaction (at their history);
    # the second culls all the others meanwhile, skipping the two the first holds.
    with ThreadPoolExecutor(1) as pool:
        with holding(db_url, "SELECT id FROM history_entry WHERE case_id = :case_id FOR UPDATE",
                     case_id=closed[0]) as lock:
            held = pool.submit(first.run_once)
            wait_for_waiters(lock, 1)
            assert second.run_until_idle() == 4
        assert held.result() == 2
    assert first.run_until_idle() + second.run_until_idle() == 0
    engine = make_engine(db_url)
    with engine.connect() as connection:
        culled = connection.execute(text("SELECT case_id, count(*) FROM history_entry WHERE event = 'case_culled' "
                                         "GROUP BY case_id")).all()
        logged = connection.execute(text("SELECT count(*) FROM access_log WHERE action = 'cull'")).scalar_one()
    engine.dispose()
    assert sorted(culled) == sorted((c, 1) for c in closed) and logged == 6
