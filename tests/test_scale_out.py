"""Two API processes and two workers on one PostgreSQL: nothing lost, nothing doubled (tests/scale_out.py)."""
from __future__ import annotations

from scale_out import run


def test_two_servers_and_two_workers_lose_and_double_nothing(pg_url, tmp_path):
    figures = run(pg_url, tmp_path, clients=4, seconds=2.0, timer_cases=6, min_steps=10)
    assert figures["completions"] >= 40 and figures["timers_fired"] == 6
