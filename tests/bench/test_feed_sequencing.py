"""Benchmark: what a feed position costs per event, against what writing the event costs, in one run.

Writers pay nothing extra (the position is given after commit); the sequencer numbers committed
events in batches. Measured on PostgreSQL: 20,000 events written in 200 transactions of 100, then
numbered by `outbox.sequence`.
"""
from __future__ import annotations

import os
import platform
import time
import uuid

import pytest

from engine.core.db import make_engine, make_session_factory
from engine.core.models import Event
from engine.integration import outbox

pytestmark = pytest.mark.bench
EVENTS, PER_TRANSACTION = 20_000, 100


@pytest.mark.parametrize("db_url", ["postgresql", "sqlite"], indirect=True)
def test_a_position_costs_a_fraction_of_writing_the_event(db_url):
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    started = time.perf_counter()
    for _ in range(EVENTS // PER_TRANSACTION):
        with sessions() as session:
            session.add_all(Event(id=str(uuid.uuid4()), type="se.samverka.task.created", case_id=None,
                                  process_key="hlt", time=_now(), data={"element_id": "x"})
                            for _ in range(PER_TRANSACTION))
            session.commit()
    writing = (time.perf_counter() - started) / EVENTS
    started = time.perf_counter()
    numbered = 0
    while done := outbox.sequence(sessions):
        numbered += done
    sequencing = (time.perf_counter() - started) / EVENTS
    engine.dispose()
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"{engine.dialect.name}")
    print(f"  writing an event: {writing * 1e6:.1f} µs; giving it its position: {sequencing * 1e6:.1f} µs "
          f"({sequencing / writing:.2f}× the write)")
    assert numbered == EVENTS


def _now():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc)
