"""Benchmark: the scale-out check of tests/scale_out.py, longer — 32 clients over two `samverka serve`
processes and two `samverka worker` processes on one PostgreSQL, 200 timer cases firing while they work."""
from __future__ import annotations

import pytest
from scale_out import run

pytestmark = pytest.mark.bench


def test_two_servers_two_workers_for_longer(pg_url, tmp_path):
    figures = run(pg_url, tmp_path, clients=32, seconds=20.0, timer_cases=200)
    print("\ntwo servers (default workers, and --workers 1) + two workers, 32 clients, 20 s: " +
          "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))
    assert figures["timers_fired"] == 200
