"""A real `samverka serve` under a memory limit, fed models that would cost without bound.

Each hostile case start answers (the case blocked at the element by an incident naming the limit), the worker inside
the server fires another case's due timer though a hostile case's timer is due beside it,
the database stays within a bound, and SIGTERM still stops the server.
"""
from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from conftest import FIXTURES, ROOT, TEST_SECRET
from hostile_models import HOSTILE, SQUARES, script_model

from engine.access.identity import ISSUER, Principal, mint_token
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework import deployments
from engine.casework.cases import CaseService
from engine.core.clock import ManualClock, SystemClock
from engine.core.db import make_engine, make_session_factory
from engine.core.migrate import upgrade
from engine.core.settings import Settings

MEMORY_LIMIT = 1536 * 1024 * 1024  # address space: the server needs about 350 MB of it
GROWTH_LIMIT = 4 * 1024 * 1024  # bytes the database may grow by while it refuses the hostile models


def due_cases(url: str) -> dict[str, str]:
    """A `vanta` case and a hostile one, each with a timer that fell due a day ago: process key -> case id."""
    clock = ManualClock(datetime.now(timezone.utc) - timedelta(days=31))
    engine = make_engine(url)
    started = {}
    with make_session_factory(engine)() as session:
        owner = Principal("agda", roles=frozenset({deployments.DEPLOYER_ROLE}))
        deployments.deploy(session, clock, owner, {
            "vanta.bpmn": (FIXTURES / "vanta.bpmn").read_bytes(),
            "kvadrat_senare.bpmn": script_model("kvadrat_senare", SQUARES, timer="P30D")})
        cases = CaseService(session, clock, Runner(clock), SpecCache())
        # kim as the server will know them from a local token: the same person, so the cases are theirs to read
        kim = Principal("kim", "skola", issuer=ISSUER, subject="kim")
        for key in ("kvadrat_senare", "vanta"):
            started[key] = cases.start(kim, key, {}).id
        session.commit()
    engine.dispose()
    return started


def database_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def serve_limited(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    """`samverka serve` whose address space is capped (RLIMIT_AS), on a port it binds itself, logging to `log`."""
    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    with open(log, "w") as out:  # a file, not a pipe: a full pipe would stall the server, not the budget
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], cwd=ROOT, env=env,
                                   preexec_fn=cap_memory, stdout=out, stderr=subprocess.STDOUT, text=True)
    for _ in range(600):
        found = re.match(r"samverka on (http://127\.0\.0\.1:\d+) ", log.read_text())
        try:
            if found:
                httpx.get(f"{found.group(1)}/health", timeout=1)
                return process, found.group(1)
        except httpx.HTTPError:
            pass
        assert process.poll() is None, log.read_text()
        time.sleep(0.1)
    process.kill()
    raise AssertionError(log.read_text())


def test_hostile_models_fail_alone_under_a_memory_limit_and_the_server_keeps_its_promises(tmp_path):
    db = tmp_path / "var" / "samverka.db"
    db.parent.mkdir()
    url = f"sqlite:///{db}"
    upgrade(url)
    due = due_cases(url)
    env = {**os.environ, "SAMVERKA_VAR_DIR": str(db.parent), "SAMVERKA_DATABASE_URL": url, "SAMVERKA_PORT": "0",
           "SAMVERKA_TOKEN_SECRET": TEST_SECRET, "SAMVERKA_WORKER_POLL_SECONDS": "0.2"}
    settings = Settings(token_secret=TEST_SECRET)
    bearer = lambda user, *roles: {"Authorization": "Bearer " + mint_token(  # noqa: E731
        settings, SystemClock(), Principal(user, "skola", frozenset(roles)), timedelta(hours=1))}
    log = tmp_path / "serve.log"
    process, base = serve_limited(env, log)
    try:
        with httpx.Client(base_url=base, timeout=120, headers=bearer("agda", "processagare")) as owner:
            files = [("files", (f"{key}.bpmn", content, "application/xml")) for key, content in HOSTILE.items()]
            assert owner.post("/process-definitions", files=files).status_code == 201
        before = database_size(db)
        with httpx.Client(base_url=base, timeout=120, headers=bearer("kim", "skolpersonal")) as kim:
            for _ in range(3):
                for key in ("kvadrat", "snurra", "nasta", "dubbla"):
                    answer = kim.post("/cases", json={"process_key": key, "data": {}})
                    assert answer.status_code == 201, answer.text
                    case = kim.get(f"/cases/{answer.json()['id']}").json()
                    assert case["blocked"] is True and case["blocked_by"]["element_id"], case
                    assert kim.get("/health").status_code == 200
            deadline = time.monotonic() + 120  # generous: the worker polls every 0.2 s
            while kim.get(f"/cases/{due['vanta']}").json()["status"] != "completed":
                assert time.monotonic() < deadline and process.poll() is None, "the due timer did not fire"
                time.sleep(0.2)
            while not kim.get(f"/cases/{due['kvadrat_senare']}").json()["blocked"]:
                assert time.monotonic() < deadline and process.poll() is None, "the hostile firing was not recorded"
                time.sleep(0.2)
            hostile = kim.get(f"/cases/{due['kvadrat_senare']}").json()
            assert hostile["status"] == "open", "the hostile case is stopped at its element, not lost"
            assert "numbers of at most 4096 bits" in hostile["blocked_by"]["error"], hostile["blocked_by"]
        assert database_size(db) - before < GROWTH_LIMIT, (before, database_size(db))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    output = log.read_text()
    assert process.returncode == 0, output
    assert "MemoryError" not in output and "Traceback" not in output, output
