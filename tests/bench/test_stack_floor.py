"""Benchmark: the web and database stack alone (tests/bench/stack_floor_app.py) under the throughput benchmark's
load, on PostgreSQL, two uvicorn workers: what any FastAPI + SQLAlchemy + psycopg service pays per step on this
machine before doing anything of its own. With the in-process SpiffWorkflow floor (test_throughput.py) it bounds
what samverka's own work costs: its server CPU per step minus both.

Run with `make bench` (or `.venv/bin/python -m pytest tests/bench/test_stack_floor.py -m bench -s -p no:xdist`).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import _free_port
from load import run_load
from processes import answers, tree_cpu_seconds
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.bench
SCHEMA = ("CREATE TABLE step (id text PRIMARY KEY, n int, body jsonb)",
          "CREATE TABLE log (id bigserial PRIMARY KEY, step_id text, at timestamptz, body text)")
SECONDS = float(os.environ.get("SAMVERKA_BENCH_SECONDS", "8"))


def test_stack_floor(postgres, pg_url):
    engine = create_engine(pg_url)
    with engine.begin() as connection:
        for statement in SCHEMA:
            connection.execute(text(statement))
    engine.dispose()
    port, here = _free_port(), Path(__file__).parent
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "stack_floor_app:app", "--port", str(port),
                               "--workers", "2", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                               "--log-level", "warning"], cwd=here, env={**os.environ, "STACK_FLOOR_DB": pg_url})
    postmaster = int((postgres.data / "postmaster.pid").read_text().split()[0])
    try:
        base = f"http://127.0.0.1:{port}"
        assert answers(f"{base}/openapi.json", server, 30), "the floor app did not start"
        print("\n| clients | completions/s | p50 ms | p99 ms | CPU ms per step: server, database |")
        print("|---|---|---|---|---|")
        for clients in (8, 32):
            before = []  # as test_throughput counts: from when every client has its case, per completed step
            result = run_load([base], ["unused"] * clients, seconds=SECONDS, on_started=lambda: before.extend(
                (tree_cpu_seconds(server.pid), tree_cpu_seconds(postmaster))))
            after = tree_cpu_seconds(server.pid), tree_cpu_seconds(postmaster)
            figures, steps = result.figures(), max(1, sum(len(r.completed) for r in result.runs))
            assert figures["errors"] == 0 and steps > 0, figures
            server_ms, database_ms = ((a - b) * 1000 / steps for a, b in zip(after, before))
            print(f"| {clients} | {figures['completions_per_s']:.0f} | {figures['p50_ms']:.1f} | "
                  f"{figures['p99_ms']:.1f} | {server_ms:.2f}, {database_ms:.2f} |")
    finally:
        server.terminate()
        server.wait(30)
