"""The scale-out shape, run for real: two `samverka serve` and two `samverka worker` processes on one PostgreSQL.

One server runs its default API processes (one per core), the other one process. Clients are spread over both servers and complete steps of their cases while timer cases wait for a
one-second timer; then the database and the feed are checked: every completion a client was answered
200 for is in the history once (none lost, none doubled), each timer fired once, and every history row
that stands for an event has its event in the feed, each at one position. Used by
tests/test_scale_out.py (small, in `make test`) and tests/bench/test_scale_out_long.py (longer).
"""
from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
from factories import deploy_files
from load import run_load
from processes import TEST_SECRET, ServeProcess, WorkerProcess, environment
from sqlalchemy import create_engine, text

from engine.access.identity import Principal, mint_token
from engine.core.clock import SystemClock
from engine.core.settings import Settings
from engine.integration.outbox import TYPES

SOON = (Path(__file__).parent / "fixtures" / "vanta.bpmn").read_bytes().replace(b'"P30D"', b'"PT1S"')


def token(user: str, *roles: str, scopes: tuple[str, ...] = ()) -> str:
    return mint_token(Settings(token_secret=TEST_SECRET), SystemClock(),
                      Principal(user, "skola", frozenset(roles), scopes=frozenset(scopes)), timedelta(hours=2))


def bearer(base_url: str, credential: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {credential}"}, timeout=60)


def run(db_url: str, tmp_path: Path, clients: int, seconds: float, timer_cases: int, min_steps: int = 0) -> dict:
    """Run the topology and check it; returns the figures (raises AssertionError on any loss or double)."""
    env = environment(db_url, tmp_path / "var")
    # One server as it runs by default on PostgreSQL (a process per core), one with a single process.
    servers = [ServeProcess(env, tmp_path / "serve-0.log"), ServeProcess(env, tmp_path / "serve-1.log", "--workers", "1")]
    workers = [WorkerProcess(env, tmp_path / f"worker-{i}.log", "--poll", "0.2") for i in range(2)]
    try:
        urls = [s.base_url for s in servers]
        with bearer(urls[0], token("agda", "processagare")) as owner:
            response = deploy_files(owner, "loop.bpmn", "vanta.bpmn", overrides={"vanta.bpmn": SOON})
            assert response.status_code == 201, response.text
        waiting = []
        for i in range(timer_cases):
            with bearer(urls[i % 2], token(f"t{i}", "kontaktperson")) as starter:
                started = starter.post("/cases", json={"process_key": "vanta", "data": {}})
                assert started.status_code == 201, started.text
                waiting.append(started.json()["id"])
        result = run_load(urls, [token(f"c{i}", "kontaktperson") for i in range(clients)], seconds=seconds,
                          warmup=0.5, min_steps=min_steps)
        errors = [e for r in result.runs for e in r.errors]
        assert not errors, errors[:5]
        deadline = time.monotonic() + 60
        engine = create_engine(db_url)
        with engine.connect() as db:
            while db.execute(text("SELECT count(*) FROM \"case\" WHERE id = ANY(:ids) AND status = 'open'"),
                             {"ids": waiting}).scalar() and time.monotonic() < deadline:
                time.sleep(0.2)
            fired = Counter(db.execute(text("SELECT case_id FROM history_entry WHERE event = 'timer_fired' "
                                            "AND case_id = ANY(:ids)"), {"ids": waiting}).scalars())
            assert fired == Counter(waiting), "each timer fires exactly once"
            for run_ in result.runs:
                recorded = list(db.execute(text(
                    "SELECT task_id FROM history_entry WHERE case_id = :case AND event = 'task_completed'"),
                    {"case": run_.case_id}).scalars())
                assert sorted(recorded) == sorted(run_.completed), "every answered completion once, none else"
            history = Counter(db.execute(text("SELECT event FROM history_entry")).scalars())
        engine.dispose()
        with bearer(urls[1], token("integration", "integrator", scopes=("*",))) as feed:
            ids, after = [], 0
            while True:
                page = feed.get("/events", params={"after": after, "limit": 1000})
                assert page.status_code == 200, page.text
                items = page.json()["items"]
                if not items:
                    break
                ids += [e["id"] for e in items]
                assert int(page.json()["next_cursor"]) > after
                after = int(page.json()["next_cursor"])
        expected = sum(n for event, n in history.items() if event in TYPES)
        assert len(ids) == len(set(ids)) == expected, "the feed holds each step's events, once each"
        assert [process.stop() for process in [*servers, *workers]] == [0, 0, 0, 0], "SIGTERM stops each cleanly"
        logged = [line for w in workers for line in w.log_path.read_text().splitlines() if '"timer_fired"' in line]
        assert len(logged) == timer_cases, "the workers fired the timers, once each"
        assert not any("worker_started" in s.log_path.read_text() for s in servers), \
            "on PostgreSQL the server runs no timer worker"
        completions = sum(len(r.completed) for r in result.runs)
        return {**result.figures(), "completions": completions, "timers_fired": sum(fired.values()),
                "events": len(ids)}
    finally:
        for process in [*servers, *workers]:
            process.stop()
