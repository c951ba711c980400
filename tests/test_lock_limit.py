"""The event loop's connections wait only briefly on a lock (engine.core.db): set once per connection, or per
transaction behind a pooler in transaction mode; the ordinary pool waits as long as it must."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from test_races import holding

from engine.core.db import make_engine, waited_on_lock

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
SHOW = text("SHOW lock_timeout")


@pytest.mark.parametrize("per_transaction", [False, True], ids=["per connection", "per transaction"])
def test_a_statement_on_a_limited_connection_gives_up_on_a_held_lock(db_url, per_transaction):
    limited = make_engine(db_url, lock_timeout_ms=25, per_transaction=per_transaction)
    try:
        with limited.connect() as connection:
            assert connection.execute(SHOW).scalar_one() == "25ms"
            connection.rollback()
            assert connection.execute(SHOW).scalar_one() == "25ms", "and in the next transaction"
        with holding(db_url, 'SELECT 1 FROM process_version FOR UPDATE'), limited.connect() as connection:
            connection.execute(text("CREATE TEMP TABLE t (id int)"))  # a transaction in progress
            with pytest.raises(OperationalError) as given_up:
                connection.execute(text("LOCK TABLE process_version IN EXCLUSIVE MODE"))
            assert waited_on_lock(given_up.value)
    finally:
        limited.dispose()


def test_the_ordinary_pool_has_no_limit(db_url):
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(SHOW).scalar_one() == "0"
    finally:
        engine.dispose()


def test_only_a_lock_wait_counts_as_one(db_url):
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection, pytest.raises(OperationalError) as other:
            connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        assert not waited_on_lock(other.value)
    finally:
        engine.dispose()
    assert not waited_on_lock(ValueError("not a database error"))

