"""A `samverka worker` killed in the middle of a migration leaves no case half-moved; the next one finishes it.

The worker is a real process; it is killed with SIGKILL while it moves cases, and a second worker takes the
migration over once the first one's lease has run out (a few seconds here)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import FIXTURES
from sqlalchemy import text

from engine.access.identity import Principal
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework import deployments
from engine.casework.cases import CaseService
from engine.casework.migration import MigrationService
from engine.core.clock import ManualClock
from engine.core.db import make_engine, make_session_factory

ROOT = Path(__file__).resolve().parent.parent
OWNER = Principal("agda", roles=frozenset({"processagare"}))
V1 = (FIXTURES / "frister.bpmn").read_bytes()
V2 = V1.replace(b'"P30D"', b'"P21D"').replace(b"upprata_sip", b"upprata_plan")
CASES = 200


def queue_migration(url: str) -> str:
    """CASES open cases on version 1, version 2 deployed, and a migration of all of them queued."""
    clock = ManualClock(datetime.now(timezone.utc))
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        deployments.deploy(session, clock, OWNER, {"frister.bpmn": V1})
        cases = CaseService(session, clock, Runner(clock), SpecCache())
        for _ in range(CASES):
            cases.start(Principal("kim", "skola", frozenset({"koordinator"})), "sip_frist", {})
        deployments.deploy(session, clock, OWNER, {"frister.bpmn": V2})
        job = MigrationService(cases).submit(OWNER, "sip_frist", {
            "from_version": 1, "to_version": 2, "mapping": [{"from": "upprata_sip", "to": "upprata_plan"}]})
        session.commit()
    engine.dispose()
    return job.id


def worker(url: str, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "SAMVERKA_DATABASE_URL": url, "SAMVERKA_VAR_DIR": str(tmp_path),
           "SAMVERKA_MIGRATION_LEASE_SECONDS": "3", "SAMVERKA_WORKER_POLL_SECONDS": "0.2"}
    return subprocess.Popen([sys.executable, "-m", "api.cli", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def state(url: str, job_id: str) -> dict:
    engine = make_engine(url)
    with engine.connect() as conn:
        one = lambda sql: conn.execute(text(sql), {"job": job_id} if ":job" in sql else {}).scalar_one()  # noqa: E731
        result = {
            "processed": one("SELECT processed FROM migration_job WHERE id = :job"),
            "moved": one("SELECT moved FROM migration_job WHERE id = :job"),
            "status": one("SELECT status FROM migration_job WHERE id = :job"),
            "on_v2": one("SELECT count(*) FROM \"case\" c JOIN process_version v ON v.id = c.process_version_id "
                         "WHERE v.version = 2"),
            "migrated_entries": one("SELECT count(*) FROM history_entry WHERE event = 'migrated'"),
            # Half-moved: on v2 without its history entry (or the reverse), or a task row left on the old element.
            "half_moved": one("SELECT count(*) FROM \"case\" c JOIN process_version v ON v.id = c.process_version_id "
                              "WHERE (v.version = 2) <> EXISTS (SELECT 1 FROM history_entry h WHERE h.case_id = c.id "
                              "AND h.event = 'migrated') OR (v.version = 2 AND EXISTS (SELECT 1 FROM user_task t "
                              "WHERE t.case_id = c.id AND t.element_id = 'upprata_sip')) OR (v.version = 1 AND "
                              "EXISTS (SELECT 1 FROM user_task t WHERE t.case_id = c.id AND "
                              "t.element_id = 'upprata_plan'))"),
        }
    engine.dispose()
    return result


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_worker_killed_mid_migration_leaves_no_case_half_moved_and_the_next_finishes_it(db_url, tmp_path):
    job_id = queue_migration(db_url)
    first = worker(db_url, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while state(db_url, job_id)["processed"] < 40:
            assert time.monotonic() < deadline and first.poll() is None, "the worker did not start migrating"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    killed = state(db_url, job_id)
    assert killed["status"] == "running" and killed["processed"] < CASES, "killed mid-migration"
    assert killed["half_moved"] == 0 and killed["on_v2"] == killed["moved"] == killed["migrated_entries"]

    second = worker(db_url, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while (now := state(db_url, job_id))["status"] != "done":
            assert time.monotonic() < deadline and second.poll() is None, f"not finished: {now}"
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    done = state(db_url, job_id)
    assert done["moved"] == done["processed"] == done["on_v2"] == done["migrated_entries"] == CASES
    assert done["half_moved"] == 0
