"""Behind PgBouncer in transaction mode (what the README advises for a region): `samverka serve` with
SAMVERKA_DB_TRANSACTION_POOLER and without prepared statements completes steps, and a step on the event loop that
meets a held row lock still gives up there and waits in a thread — its lock limit is set in each transaction, as
the pooler hands every transaction whichever server connection is free."""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import _free_port
from factories import complete, deploy_files, start_case
from processes import ServeProcess, environment
from scale_out import bearer, token
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from test_races import CASE_LOCK, holding, wait_for_waiters

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def bouncer_url(db_url):
    """`db_url` through a PgBouncer in transaction mode with a pool of two server connections."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        pytest.fail("pgbouncer is not installed: `make test` installs Debian's package")
    url = make_url(db_url)
    home = Path(tempfile.mkdtemp(prefix="samverka-bouncer-"))
    port = _free_port()
    (home / "users.txt").write_text('"samverka" ""\n')
    (home / "pgbouncer.ini").write_text(f"""[databases]
* = host={url.query["host"]}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home / "users.txt"}
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
""")
    as_user = []
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        pw = pwd.getpwnam("postgres")
        for path in (home, home / "users.txt", home / "pgbouncer.ini"):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    process = subprocess.Popen([*as_user, binary, str(home / "pgbouncer.ini")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert process.poll() is None and time.monotonic() < deadline, "pgbouncer did not start"
            time.sleep(0.05)
        yield f"postgresql+psycopg://samverka@127.0.0.1:{port}/{url.database}"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(home, ignore_errors=True)


def test_steps_behind_pgbouncer_in_transaction_mode(db_url, bouncer_url, tmp_path):
    env = environment(bouncer_url, tmp_path / "var", SAMVERKA_DB_TRANSACTION_POOLER="true",
                      SAMVERKA_DB_PREPARED_STATEMENTS="false")
    with ServeProcess(env, tmp_path / "serve.log", "--workers", "1") as server, \
            bearer(server.base_url, token("agda", "processagare")) as owner, \
            bearer(server.base_url, token("kim", "kontaktperson")) as kim, \
            bearer(server.base_url, token("kia", "kontaktperson")) as kia:
        assert deploy_files(owner, "loop.bpmn").status_code == 201
        held, other = start_case(kim, "uppfoljning"), start_case(kia, "uppfoljning")
        task_id = held["open_tasks"][0]["id"]
        for _ in range(12):  # more transactions than server connections: each lands on whichever is free
            answer = complete(kim, task_id, fortsatt=True)
            assert answer.status_code == 200, answer.text
            task_id = answer.json()["open_tasks"][0]["id"]
        with ThreadPoolExecutor(1) as pool, holding(db_url, CASE_LOCK, case_id=held["id"]) as lock:
            waiting = pool.submit(complete, kim, task_id, fortsatt=True)
            wait_for_waiters(lock, 1)
            for _ in range(3):  # the process is not held up: the loop's statement gave up on the lock
                meanwhile = complete(kia, other["open_tasks"][0]["id"], fortsatt=True)
                assert meanwhile.status_code == 200, meanwhile.text
                other = {"open_tasks": meanwhile.json()["open_tasks"]}
            assert not waiting.done()
        assert waiting.result().status_code == 200, waiting.result().text
    # No server connection was left with the loop's limit as a session setting (it would reach every client the
    # pooler hands that connection to, the ordinary pool's waits included): hold both and ask each.
    engine = create_engine(bouncer_url, connect_args={"prepare_threshold": None})
    try:
        with engine.connect() as first, engine.connect() as second:
            assert [c.execute(text("SHOW lock_timeout")).scalar_one() for c in (first, second)] == ["0", "0"]
    finally:
        engine.dispose()
