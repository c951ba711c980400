"""Benchmark: two workers fire 10,000 timers that fall due at once among 1,000,000 open cases (PostgreSQL).

Run with `make bench` (SAMVERKA_BENCH_CASES sets the number of open cases). The cases are
cloned in SQL from two real engine-started cases (one due, one due in 30 days), each clone
with its own case and timer ids; then the due ones are set to fall due a few seconds after
two `samverka worker` processes are already waiting. Reports elapsed time, timer lag p50/p99
and the plan of the claim query.
"""
from __future__ import annotations

import os
import platform
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from test_timer_workers import start_due_cases, worker

from engine.access.identity import Principal
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework.cases import CaseService
from engine.casework.timers import TimerService
from engine.core.clock import ManualClock
from engine.core.db import make_engine, make_session_factory

pytestmark = pytest.mark.bench
CASES = int(os.environ.get("SAMVERKA_BENCH_CASES", "1000000"))
DUE = 10_000


def _template(session, clock) -> tuple[str, str, str]:
    """Start one `vanta` case on `clock`; its id, timer id and the due time written in its state."""
    case = CaseService(session, clock, Runner(clock), SpecCache()).start(Principal("bench", "skola"), "vanta", {})
    session.flush()
    timer_id, due = session.execute(text("SELECT id, due_at FROM timer WHERE case_id = :c"), {"c": case.id}).one()
    return case.id, timer_id, due.astimezone(timezone.utc).isoformat()


def _clone(conn, template: str, timer_id: str, first: int, last: int) -> None:
    conn.execute(text("""
        INSERT INTO "case" (id, process_key, process_version_id, status, data, state, serializer_version, version,
                            created_at, updated_at, created_by)
        SELECT i.cid, t.process_key, t.process_version_id, 'open', t.data, replace(t.state, :tid, i.tid),
               t.serializer_version, 1, t.created_at, t.updated_at, t.created_by
        FROM ids i, "case" t WHERE t.id = :template AND i.n BETWEEN :first AND :last"""),
        {"tid": timer_id, "template": template, "first": first, "last": last})
    conn.execute(text("""
        INSERT INTO timer (id, case_id, process_key, element_id, name, kind, effect, leads_to, expression, repeats,
                           attached_to, interrupting, due_at, fire_at, attempts)
        SELECT i.tid, i.cid, t.process_key, t.element_id, t.name, t.kind, t.effect, t.leads_to, t.expression,
               t.repeats, NULL, t.interrupting, t.due_at, t.fire_at, 0
        FROM ids i, timer t WHERE t.id = :tid AND i.n BETWEEN :first AND :last"""),
        {"tid": timer_id, "first": first, "last": last})


def test_two_workers_fire_ten_thousand_due_timers_among_a_million(pg_url, tmp_path):
    start_due_cases(pg_url, 0)  # deploys `vanta`
    engine = make_engine(pg_url)
    clock = ManualClock(datetime.now(timezone.utc).replace(microsecond=0))
    with make_session_factory(engine)() as session:
        due_case, due_timer, due_text = _template(session, clock)  # due in 30 days, until moved below
        clock.advance(timedelta(days=1))
        later_case, later_timer, _ = _template(session, clock)
        session.commit()

    loading = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE ids AS SELECT n, gen_random_uuid()::text AS cid, gen_random_uuid()::text "
                          "AS tid FROM generate_series(1, :n) n"), {"n": CASES})
        _clone(conn, due_case, due_timer, 1, DUE)
        _clone(conn, later_case, later_timer, DUE + 1, CASES)
        conn.execute(text("DELETE FROM \"case\" WHERE id IN (:a, :b)"), {"a": due_case, "b": later_case})
        conn.execute(text("DROP TABLE ids"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    loaded = time.perf_counter() - loading

    logs = [open(tmp_path / f"worker{n}.log", "w") for n in range(2)]
    workers = [worker(pg_url, tmp_path, "--batch-size", "50", "--poll", "0.2", stdout=log) for log in logs]
    time.sleep(3)  # both are up and idle, waiting for the next due timer
    due_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=3)
    with engine.begin() as conn:  # all 10,000 fall due at the same moment
        conn.execute(text("UPDATE \"case\" SET state = replace(state, :old, :new) WHERE id IN "
                          "(SELECT case_id FROM timer WHERE due_at = :was)"),
                     {"old": due_text, "new": due_at.isoformat(), "was": datetime.fromisoformat(due_text)})
        conn.execute(text("UPDATE timer SET due_at = :at, fire_at = :at WHERE due_at = :was"),
                     {"at": due_at, "was": datetime.fromisoformat(due_text)})
    deadline = time.monotonic() + 600
    with engine.connect() as conn:
        while conn.execute(text("SELECT count(*) FROM history_entry WHERE event = 'timer_fired'")).scalar_one() < DUE:
            conn.rollback()
            assert time.monotonic() < deadline, "the workers did not fire all due timers within 10 minutes"
            time.sleep(0.2)
        conn.rollback()
        stats = conn.execute(text("""
            SELECT count(*), max(at), percentile_cont(0.5) WITHIN GROUP (ORDER BY (details->>'lag_seconds')::float),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY (details->>'lag_seconds')::float),
                   count(DISTINCT case_id)
            FROM history_entry WHERE event = 'timer_fired'""")).one()
        left_open = conn.execute(text("SELECT count(*) FROM \"case\" WHERE status = 'open'")).scalar_one()
    for w, log in zip(workers, logs):
        w.send_signal(signal.SIGTERM)
        w.wait(30)
        log.close()
    with make_session_factory(engine)() as session:
        query = TimerService(CaseService(session, ManualClock(due_at), Runner(ManualClock(due_at)), SpecCache()))
        claim = query.claim_query(50).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.execute(text(f"EXPLAIN {claim}")).scalars())
    engine.dispose()

    fired, last_at, lag_p50, lag_p99, distinct = stats
    elapsed = (last_at - due_at).total_seconds()
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"  open cases {CASES:,}, due at once {DUE:,}, loaded in {loaded:.0f} s")
    print(f"  two workers fired {fired:,} timers ({distinct:,} cases) in {elapsed:.1f} s after they fell due")
    print(f"  timer lag p50 {lag_p50:.2f} s, p99 {lag_p99:.2f} s; cases still open {left_open:,}")
    print("  claim query plan:\n    " + plan.replace("\n", "\n    "))
    assert fired == distinct == DUE and left_open == CASES - DUE
    assert "ix_timer_fire_at" in plan
    assert elapsed < 60, f"goal: 10,000 timers within 60 s, took {elapsed:.1f} s"
