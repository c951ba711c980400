"""Benchmark: one school's absence for 10,000 pupils in one request, on PostgreSQL.

1,000 pupils already have ladder cases (they get the report), 900 of the other 9,000 are
above the ladder's entry threshold (a case is started and gets the report), the rest are
left alone. Goal: under 30 s on a 2-core machine.
"""
from __future__ import annotations

import os
import platform
import time

import pytest
from test_absence_import import INTEGRATOR, period, row

pytestmark = pytest.mark.bench


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_ten_thousand_pupils_in_one_request(product, db_url):
    with product.client("nara", *INTEGRATOR) as system:
        system.timeout = 600
        earlier = {"period_start": "2026-01-05", "period_slut": "2026-01-11"}  # the week before the one measured
        setup = system.post("/absence-reports", json={**period([row(f"elev-{n}", 12) for n in range(1000)]), **earlier})
        assert setup.json()["started"] == 1000
        rows = [row(f"elev-{n}", 12 if n < 1000 or n % 10 == 0 else 2) for n in range(10_000)]
        started = time.perf_counter()
        response = system.post("/absence-reports", json=period(rows))
        elapsed = time.perf_counter() - started
    result = response.json()
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"  10,000 pupils: {elapsed:.1f} s — delivered {result['delivered']}, started {result['started']}, "
          f"below threshold {result['below_threshold']}, failed {len(result['failed'])}")
    assert result == {"processed": 10_000, "delivered": 1900, "started": 900, "below_threshold": 8100, "unchanged": 0,
                      "corrected": 0, "failed": []}
    assert elapsed < 30, f"goal: under 30 s, took {elapsed:.1f} s"
