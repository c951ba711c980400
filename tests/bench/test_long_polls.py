"""Benchmark: 100 concurrent long-polls on the event feed, and how fast /health answers meanwhile.

Before, each long-poll slept in the server's thread pool (40 threads): 45 of them took /health from
0.03 s to 28.6 s. Now a wait costs no thread and no database connection.
"""
from __future__ import annotations

import os
import platform
import statistics
import threading
import time

import httpx
import pytest

pytestmark = pytest.mark.bench
POLLS, CLIENTS = 100, 25  # four long-polls per client: the most one client may hold


def _health_latencies(base_url: str, n: int = 50) -> list[float]:
    timings = []
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for _ in range(n):
            started = time.perf_counter()
            assert client.get("/health").status_code == 200
            timings.append(time.perf_counter() - started)
    return timings


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_health_stays_fast_while_a_hundred_long_polls_wait(server, db_url):
    quiet = _health_latencies(server.base_url)
    clients = [server.client(f"poller-{n}", "integrator") for n in range(CLIENTS)]
    statuses: list[int] = []
    polls = [threading.Thread(target=lambda c=clients[i % CLIENTS]: statuses.append(
        c.get("/events", params={"after": 10**6, "wait": 15}, timeout=60).status_code)) for i in range(POLLS)]
    for poll in polls:
        poll.start()
    while sum(server.app.state.feed_waits.values()) < POLLS:
        time.sleep(0.05)
    busy = _health_latencies(server.base_url)
    for poll in polls:
        poll.join(60)
    for client in clients:
        client.close()
    p99 = sorted(busy)[int(len(busy) * 0.99) - 1]
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"  /health alone: median {statistics.median(quiet) * 1000:.1f} ms; with {POLLS} long-polls waiting: "
          f"median {statistics.median(busy) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    assert statuses == [200] * POLLS
    assert p99 < 0.1, f"goal: /health under 100 ms while {POLLS} long-polls wait"
