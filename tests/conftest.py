"""Test fixtures: real databases (SQLite and a throwaway PostgreSQL) and the app on a real port.

Every database is built by `alembic upgrade head` once per test session (a template),
then each test gets its own copy: a file copy for SQLite, CREATE DATABASE ... TEMPLATE
for PostgreSQL.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from api.app import create_app
from engine.access.identity import Principal, mint_token
from engine.access.sealing import sealer_for
from engine.casework.absence import AbsenceImport
from engine.casework.import_jobs import ImportJobRunner
from engine.casework.retention import Culler
from engine.casework.worker import Worker
from engine.core.clock import ManualClock
from engine.core.migrate import upgrade
from engine.core.settings import Settings
from engine.integration.webhooks import Deliverer

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-not-for-production-0123456789"
BACKENDS = ["sqlite", "postgresql"]
START = datetime(2026, 1, 12, 8, 0, tzinfo=timezone.utc)


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        pytest.fail(f"{name} not found: `make test` installs Debian's postgresql package")
    return found


class PostgresCluster:
    """A throwaway cluster on a unix socket, started with initdb/pg_ctl."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="samverka-pg-"))
        self.data, self.socket = self.dir / "data", self.dir / "sock"
        self.socket.mkdir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chown(self.socket, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, cwd=self.dir)

    def start(self) -> None:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "samverka", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        opts = f"-c listen_addresses='' -k {self.socket} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-w", "-l", str(self.dir / "log"), "start")

    def stop(self) -> None:
        subprocess.run([*self.as_user, _pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, cwd=self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://samverka@/{database}?host={self.socket}"

    def admin(self, sql: str) -> None:
        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres():
    cluster = PostgresCluster()
    cluster.start()
    cluster.admin("CREATE DATABASE template_samverka")
    upgrade(cluster.url("template_samverka"))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def pg_url(postgres) -> str:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres.admin(f"CREATE DATABASE {name} TEMPLATE template_samverka")
    yield postgres.url(name)
    postgres.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """A fresh, migrated database for one test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "samverka.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("pg_url")


def _free_port() -> int:
    """A port that was free a moment ago, for a subprocess that must be told its port before it starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The app served by uvicorn on a loopback port, with a clock the test controls."""

    def __init__(self, db_url: str, var_dir: Path, embedded_worker: bool = False, forms_dir: Path = FIXTURES / "forms",
                 log_level: str = "warning", **settings):
        settings.setdefault("webhook_allow_private", True)  # the tests' receivers listen on loopback
        self.clock = ManualClock(START)
        self.settings = Settings(database_url=db_url, var_dir=var_dir, token_secret=TEST_SECRET,
                                 forms_dir=forms_dir, embedded_worker=embedded_worker,
                                 worker_poll_seconds=0.05, **settings)
        self.app = create_app(self.settings, self.clock)
        self.port, self.base_url = 0, ""  # known once the server has bound its socket
        # Port 0: the server binds a free port itself (no window for another process to take it).
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level=log_level,
                                                     lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> "Server":
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self.app.state.db.dispose()

    def fire_timers(self) -> list:
        """Run the timer worker (the real one, on the app's clock and database) until nothing is due."""
        state = self.app.state
        return Worker(state.session_factory, self.clock, state.runner, state.specs).run_until_idle()

    def run_import_jobs(self) -> int:
        """Run the worker's queued absence imports (the real runner, on the app's clock and database)."""
        state = self.app.state
        runner = ImportJobRunner(state.session_factory, self.clock,
                                 AbsenceImport(state.session_factory, self.clock, state.runner, state.specs), "test")
        ran = 0
        while runner.run_once():
            ran += 1
        return ran

    def cull(self) -> int:
        """Run the worker's gallring job on the app's clock until no case is due."""
        return Culler(self.app.state.session_factory, self.clock, self.settings.retention_days).run_until_idle()

    def deliver_webhooks(self) -> int:
        """Run the webhook deliverer (the worker's) on the app's clock until nothing is due."""
        return Deliverer(self.app.state.session_factory, self.clock, sealer_for(self.settings),
                         self.settings.webhook_allow_private, timeout=5).run_until_idle()

    def token(self, user: str, *roles: str, agency: str | None = "skola", scopes: tuple[str, ...] | None = None,
              units: tuple[str, ...] = ()) -> str:
        """A long-lived token (scenario tests move the engine clock by months); integrators get every scope."""
        scopes = ("*",) if scopes is None and "integrator" in roles else scopes or ()
        return mint_token(self.settings, self.clock, Principal(user, agency, frozenset(roles), scopes=frozenset(scopes),
                                                               units=frozenset(units)), timedelta(days=3650))

    def client(self, user: str, *roles: str, agency: str | None = "skola",
               scopes: tuple[str, ...] | None = None, units: tuple[str, ...] = ()) -> httpx.Client:
        """A real HTTP client acting as `user` with `roles` (and, for an integrator, `scopes`) at `units`."""
        return self.bearer(self.token(user, *roles, agency=agency, scopes=scopes, units=units))

    def bearer(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"})

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)


@pytest.fixture
def server(db_url, tmp_path):
    with Server(db_url, tmp_path / "var") as running:
        yield running


@pytest.fixture
def product(db_url, tmp_path):
    """The app with the product's own forms/ and every process in processes/ deployed."""
    with Server(db_url, tmp_path / "var", forms_dir=ROOT / "forms") as running:
        with running.client("agda", "processagare") as owner:
            files = [("files", (p.name, p.read_bytes(), "application/xml"))
                     for p in sorted((ROOT / "processes").iterdir()) if p.suffix in (".bpmn", ".dmn")]
            response = owner.post("/process-definitions", files=files)
            assert response.status_code == 201, response.text
        yield running

