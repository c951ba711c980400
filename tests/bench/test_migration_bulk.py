"""Benchmark: migrating 10,000 open cases to a revised model on PostgreSQL, as the worker does.

The cases run `sip_frist` (frister.bpmn): 9,000 wait at Upprätta SIP on a 30-day deadline, 1,000 are at Insatser
on a six-monthly cycle. Version 2 renames Upprätta SIP (mapped) and shortens the deadline to 21 days. Measured:
the dry run (its first 2,000 cases, the report's limit) and the migration job run by one worker, case by case in
its own transaction, with the time per case.
"""
from __future__ import annotations

import os
import platform
import time
from datetime import datetime, timezone

import pytest
from conftest import FIXTURES
from sqlalchemy import select

from engine.access.identity import Principal
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework import deployments
from engine.casework.cases import CaseService
from engine.casework.migration import MigrationService
from engine.casework.migration_jobs import MigrationJobRunner
from engine.casework.tasks import TaskService
from engine.core.clock import ManualClock
from engine.core.db import make_engine, make_session_factory
from engine.core.models import MigrationJob, UserTask

pytestmark = pytest.mark.bench
OWNER = Principal("agda", roles=frozenset({"processagare"}))
KIM = Principal("kim", "skola", frozenset({"koordinator"}))
V1 = (FIXTURES / "frister.bpmn").read_bytes()
V2 = V1.replace(b'"P30D"', b'"P21D"').replace(b"upprata_sip", b"upprata_plan")
CASES, AT_INSATS = 10_000, 1_000


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_ten_thousand_open_cases_migrate_case_by_case(db_url):
    clock = ManualClock(datetime.now(timezone.utc))
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    runner, specs = Runner(clock), SpecCache()
    with sessions() as session:
        deployments.deploy(session, clock, OWNER, {"frister.bpmn": V1})
        session.commit()
    for chunk in range(CASES // 500):
        with sessions() as session:
            cases = CaseService(session, clock, runner, specs)
            started = [cases.start(KIM, "sip_frist", {}) for _ in range(500)]
            if chunk < AT_INSATS // 500:
                tasks = TaskService(cases)
                for case in started:
                    task_id = session.scalar(select(UserTask.id).where(UserTask.case_id == case.id))
                    tasks.complete(KIM, task_id, {})
            session.commit()
    with sessions() as session:
        deployments.deploy(session, clock, OWNER, {"frister.bpmn": V2})
        session.commit()
    body = {"from_version": 1, "to_version": 2, "mapping": [{"from": "upprata_sip", "to": "upprata_plan"}]}
    with sessions() as session:
        service = MigrationService(CaseService(session, clock, runner, specs))
        began = time.perf_counter()
        report = service.dry_run(OWNER, "sip_frist", body)
        dry = time.perf_counter() - began
        job_id = service.submit(OWNER, "sip_frist", body).id
        session.commit()
    began = time.perf_counter()
    assert MigrationJobRunner(sessions, clock, runner, specs, "bench").run_once()
    elapsed = time.perf_counter() - began
    with sessions() as session:
        job = session.get(MigrationJob, job_id)
        moved, refused, status = job.moved, len(job.refused), job.status
    engine.dispose()
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"  dry run of {len(report['cases'])} cases: {dry:.1f} s ({dry / len(report['cases']) * 1000:.1f} ms/case)")
    print(f"  migration of {CASES:,} cases: {elapsed:.1f} s ({elapsed / CASES * 1000:.1f} ms/case), "
          f"moved {moved}, refused {refused}")
    assert status == "done" and moved == CASES and refused == 0
    assert elapsed < 600, f"goal: under 10 minutes, took {elapsed:.1f} s"
