"""Database engine and sessions; SQLite is tuned for a single embedded server."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker


def make_engine(url: str, application_name: str = "samverka", pool_size: int = 10, max_overflow: int = 10,
                prepared_statements: bool = True) -> Engine:
    """Create an Engine; SQLite gets WAL, foreign keys, secure delete and a busy timeout; PostgreSQL names
    the connection and pools `pool_size` (+ `max_overflow` under a burst) connections; without
    `prepared_statements` psycopg never prepares server-side (for PgBouncer in transaction mode before 1.21)."""
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
    return create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800,
                         connect_args={"application_name": application_name,
                                       **({} if prepared_statements else {"prepare_threshold": None})})


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
