"""Many workers on one PostgreSQL: every due timer fires exactly once, even when a worker is killed mid-batch.

The workers are real `samverka worker` processes on the system clock; the cases are
started on an engine clock a month in the past, so their 30-day timers are due now.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from conftest import FIXTURES, _free_port
from sqlalchemy import text

from engine.access.identity import Principal
from engine.access.sealing import sealer_for
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework import deployments
from engine.casework.cases import CaseService
from engine.core.clock import ManualClock
from engine.core.db import make_engine, make_session_factory
from engine.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def start_due_cases(url: str, count: int) -> None:
    """`count` cases of `vanta`, each waiting on a 30-day timer that fell due a day ago."""
    clock = ManualClock(datetime.now(timezone.utc) - timedelta(days=31))
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        owner = Principal("agda", roles=frozenset({deployments.DEPLOYER_ROLE}))
        deployments.deploy(session, clock, owner, {"vanta.bpmn": (FIXTURES / "vanta.bpmn").read_bytes()})
        cases = CaseService(session, clock, Runner(clock), SpecCache())
        for _ in range(count):
            cases.start(Principal("kim", "skola"), "vanta", {})
        session.commit()
    engine.dispose()


def worker(url: str, tmp_path: Path, *args: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    """A `samverka worker` process; read its stdout (or pass a file) or it blocks once the pipe is full."""
    env = {**os.environ, "SAMVERKA_DATABASE_URL": url, "SAMVERKA_VAR_DIR": str(tmp_path),
           "SAMVERKA_WEBHOOK_ALLOW_PRIVATE": "true",  # its receiver listens on loopback
           "SAMVERKA_WEBHOOK_TIMEOUT_SECONDS": "2"}  # so a killed worker's deliveries are leased for 7 s
    return subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--batch-size", "10", *args], cwd=ROOT,
                            env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)


def counts(url: str) -> dict:
    engine = make_engine(url)
    with engine.connect() as conn:
        one = lambda sql: conn.execute(text(sql)).scalar_one()  # noqa: E731
        result = {
            "fired": one("SELECT count(*) FROM history_entry WHERE event = 'timer_fired'"),
            "cases_fired_twice": one("SELECT count(*) FROM (SELECT case_id FROM history_entry WHERE event = "
                                     "'timer_fired' GROUP BY case_id HAVING count(*) > 1) x"),
            "completed": one("SELECT count(*) FROM \"case\" WHERE status = 'completed'"),
            "completed_twice": one("SELECT count(*) FROM (SELECT case_id FROM history_entry WHERE event = "
                                   "'case_completed' GROUP BY case_id HAVING count(*) > 1) x"),
            "timers_left": one("SELECT count(*) FROM timer"),
            # Half-done would be: a case moved on without its firing recorded, or recorded without moving on.
            "half_done": one("SELECT count(*) FROM \"case\" c WHERE (c.status = 'completed') <> EXISTS (SELECT 1 "
                             "FROM history_entry h WHERE h.case_id = c.id AND h.event = 'timer_fired')"),
            "open_without_timer": one("SELECT count(*) FROM \"case\" c WHERE c.status = 'open' AND NOT EXISTS "
                                      "(SELECT 1 FROM timer t WHERE t.case_id = c.id)"),
        }
    engine.dispose()
    return result


IN_TRANSACTION = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'samverka-worker' "
                  "AND xact_start IS NOT NULL AND pid <> pg_backend_pid()")


def fired_by(output: str) -> int:
    return sum(1 for line in output.splitlines() if line.startswith("{") and json.loads(line)["event"] == "timer_fired")


def wait_until_fired(url: str, at_least: int, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + 120
    while (fired := counts(url)["fired"]) < at_least:
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    return fired


DUE = 1000  # enough for four workers to share by construction (below); the benchmark fires more


def test_four_workers_fire_a_thousand_due_timers_exactly_once(pg_url, tmp_path):
    start_due_cases(pg_url, DUE)
    logs = [tmp_path / f"worker{n}.log" for n in range(4)]
    with ExitStack() as files:
        out = [files.enter_context(open(log, "w")) for log in logs]
        # The work is shared by construction, not by scheduling luck: the first worker fires some timers alone
        # and is then stopped (SIGSTOP, perhaps holding a claimed batch), so the others must fire the rest.
        first = worker(pg_url, tmp_path, "--once", stdout=out[0])
        wait_until_fired(pg_url, 10, first)
        first.send_signal(signal.SIGSTOP)
        at_stop = counts(pg_url)["fired"]  # final for the first worker but for the one batch it may hold
        assert at_stop < DUE - 10, "the first worker was stopped with work left for the others"
        others = [worker(pg_url, tmp_path, "--once", stdout=f) for f in out[1:]]
        assert [w.wait(300) for w in others] == [0, 0, 0]
        first.send_signal(signal.SIGCONT)
        assert first.wait(300) == 0
    outputs = [log.read_text() for log in logs]
    assert counts(pg_url) == {"fired": DUE, "cases_fired_twice": 0, "completed": DUE, "completed_twice": 0,
                              "timers_left": 0, "half_done": 0, "open_without_timer": 0}
    per_worker = [fired_by(out) for out in outputs]
    assert sum(per_worker) == DUE
    assert per_worker[0] >= at_stop >= 10 and sum(per_worker[1:]) >= DUE - at_stop - 10 > 0, per_worker


def test_a_worker_killed_while_firing_leaves_nothing_half_done(pg_url, tmp_path):
    start_due_cases(pg_url, 600)
    port = _free_port()
    victim = worker(pg_url, tmp_path, "--metrics-port", str(port), stdout=subprocess.DEVNULL)
    wait_until_fired(pg_url, 100, victim)
    deadline = time.monotonic() + 120
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'samverka_timers_fired_total{process_key="vanta"}' in metrics
    assert "samverka_timer_lag_seconds_count" in metrics
    engine = make_engine(pg_url)
    with engine.connect() as conn:  # kill it inside a firing transaction, not between two:
        while True:  # stopped (SIGSTOP), it cannot commit between our look and the kill
            victim.send_signal(signal.SIGSTOP)
            if conn.execute(text(IN_TRANSACTION)).scalar_one():
                break
            victim.send_signal(signal.SIGCONT)
            conn.rollback()  # activity statistics are a snapshot per transaction
            assert time.monotonic() < deadline
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
    engine.dispose()
    victim.wait(30)

    after_kill = counts(pg_url)
    assert 100 <= after_kill["fired"] < 600
    assert after_kill["half_done"] == 0 and after_kill["open_without_timer"] == 0
    assert after_kill["cases_fired_twice"] == 0

    rescuer = worker(pg_url, tmp_path, "--once")
    rescuer.communicate(timeout=300)
    assert counts(pg_url) == {"fired": 600, "cases_fired_twice": 0, "completed": 600, "completed_twice": 0,
                              "timers_left": 0, "half_done": 0, "open_without_timer": 0}


def test_a_worker_killed_mid_delivery_loses_no_event(pg_url, tmp_path):
    """At-least-once: after a SIGKILL mid-delivery every event arrives; webhook-id de-duplicates the repeats."""
    from receiver import Receiver
    from standardwebhooks import Webhook

    from engine.integration.webhooks import WebhookService

    receiver = Receiver(delay=0.05).start()
    engine = make_engine(pg_url)
    clock = ManualClock(datetime.now(timezone.utc))
    with make_session_factory(engine)() as session:
        sealer = sealer_for(Settings(var_dir=tmp_path))  # the worker below keeps its data key there too
        _, secret = WebhookService(session, clock, sealer, allow_private=True).create(
            Principal("ivar", roles=frozenset({"integrator"}), scopes=frozenset({"webhooks", "events"})), receiver.url, [], [])
        session.commit()
    start_due_cases(pg_url, 40)  # 40 case.started events, each case's in its own order
    victim = worker(pg_url, tmp_path, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(receiver.received) < 5:
        assert victim.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    # The rescuer sends the rest at once, and what the victim had in flight once its lease runs out.
    rescuer = worker(pg_url, tmp_path, stdout=subprocess.DEVNULL)
    undelivered = "SELECT count(*) FROM webhook_delivery WHERE state <> 'delivered'"
    deadline = time.monotonic() + 120
    with engine.connect() as conn:
        while conn.execute(text(undelivered)).scalar_one():
            assert rescuer.poll() is None and time.monotonic() < deadline
            conn.rollback()
            time.sleep(0.2)
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(60) == 0
    receiver.stop()
    with engine.connect() as conn:
        outbox = set(conn.execute(text("SELECT id FROM event")).scalars())
        pending = conn.execute(text(undelivered)).scalar_one()
    engine.dispose()
    arrived = [Webhook(secret).verify(body, headers)["id"] for headers, body in receiver.received]
    assert set(arrived) == outbox and pending == 0
    assert len(outbox) >= 40 * 3  # started, timer fired, completed: nothing lost in between
