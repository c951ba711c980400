"""Database engine and sessions; SQLite is tuned for a single embedded server."""
from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg.pq import ExecStatus
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock wait cut short by lock_timeout


def make_engine(url: str, application_name: str = "samverka", pool_size: int = 10, max_overflow: int = 10,
                prepared_statements: bool = True, lock_timeout_ms: int | None = None,
                per_transaction: bool = False) -> Engine:
    """Create an Engine; SQLite gets WAL, foreign keys, secure delete and a busy timeout; PostgreSQL names
    the connection and pools `pool_size` (+ `max_overflow` under a burst) connections; without
    `prepared_statements` psycopg never prepares server-side (for PgBouncer in transaction mode before 1.21).
    With `lock_timeout_ms`, a PostgreSQL statement that waits longer than that on a lock fails (`waited_on_lock`)
    instead of waiting on; `per_transaction` sets that limit in each transaction (PgBouncer in transaction mode)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Culled and overwritten personal data are zeroed in the file, not left in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg")
    # No pre-ping: it would cost a round trip on every checkout. A connection that died (PostgreSQL restarted)
    # fails its request once, and SQLAlchemy then drops the whole pool; recycling bounds a connection's age.
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800,
                           connect_args={"application_name": application_name, "cursor_factory": DescribedCursor,
                                         **({} if prepared_statements else {"prepare_threshold": None})})
    if lock_timeout_ms:
        _limit_lock_waits(engine, int(lock_timeout_ms), per_transaction)
    return engine


class DescribedCursor(psycopg.Cursor):
    """A cursor that describes a result from what it kept for a result of the same columns (names, types and type
    modifiers) before: psycopg builds a Column object per column on every `description` (SQLAlchemy asks once per
    statement), and for the step's 54-column read that was about a twelfth of a completion's CPU (issue 19);
    reading the columns' names and types off the result costs a tenth of that. Kept for every connection: the
    engine registers no types of its own, so every connection describes a type alike."""

    _described: dict = {}

    @property
    def description(self):
        res = self.pgresult
        if res is None or res.status != ExecStatus.TUPLES_OK or not res.nfields:
            return super().description
        key = tuple((res.fname(i), res.ftype(i), res.fmod(i)) for i in range(res.nfields))
        described = self._described.get(key)
        if described is None:
            if len(self._described) >= 2000:  # more shapes than the engine's statements have: start over
                self._described.clear()
            described = self._described[key] = super().description
        return list(described)  # a list of its own, as psycopg gives


def _limit_lock_waits(engine: Engine, ms: int, per_transaction: bool) -> None:
    """Set lock_timeout once per connection (no cost per request), or, behind a pooler in transaction mode that
    keeps no session state, at the start of every transaction (one statement more)."""
    if per_transaction:
        @event.listens_for(engine, "begin")
        def _per_transaction(connection):
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
        return

    @event.listens_for(engine, "connect")
    def _per_connection(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {ms}")
        dbapi_connection.commit()


def waited_on_lock(exc: BaseException) -> bool:
    """Whether `exc` is PostgreSQL's "lock not available": a statement gave up waiting (lock_timeout)."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
