"""A PostgreSQL result is described from what the cursor kept for a result of the same columns
(engine.core.db.DescribedCursor), and always as psycopg itself describes it."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from engine.core.db import DescribedCursor, make_engine

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def connection(db_url):
    engine = make_engine(db_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def described(result) -> list[tuple[str, int]]:
    return [(column[0], column[1]) for column in result.cursor.description]


def test_a_statement_run_again_is_described_alike_and_others_as_their_own(connection):
    assert isinstance(connection.connection.dbapi_connection.cursor(), DescribedCursor)
    first = connection.execute(text("SELECT 1 AS a, 'x'::text AS b"))
    assert described(first) == [("a", 23), ("b", 25)]
    again = connection.execute(text("SELECT 1 AS a, 'x'::text AS b"))
    assert described(again) == described(first)
    assert again.cursor.description is not first.cursor.description, "each caller gets a list of its own"
    assert ((b"a", 23, -1), (b"b", 25, -1)) in DescribedCursor._described, "kept"
    renamed = connection.execute(text("SELECT 2 AS c, 'y'::text AS d"))
    assert described(renamed) == [("c", 23), ("d", 25)]
    # A result of other column types is described as its own, also once psycopg has prepared the statement
    # (after five runs) and no longer holds its text.
    typed = "SELECT CAST(:v AS {}) AS v"
    assert described(connection.execute(text(typed.format("int")), {"v": 1})) == [("v", 23)]
    assert described(connection.execute(text(typed.format("text")), {"v": "1"})) == [("v", 25)]
    for _ in range(7):
        assert described(connection.execute(text(typed.format("int")), {"v": 1})) == [("v", 23)]
    assert connection.execute(text("SELECT 1 AS a, 'x'::text AS b")).all() == [(1, "x")]
    cursor = connection.connection.dbapi_connection.cursor()
    cursor.execute("CREATE TEMP TABLE t (id int)")
    assert cursor.description is None, "a statement that returns no rows has no description"


def test_it_describes_as_psycopg_does(connection):
    raw = connection.connection.dbapi_connection
    query = "SELECT now() AS at, '{}'::jsonb AS data, true AS flag, NULL::varchar(20) AS name"
    plain, kept = psycopg.Cursor(raw), raw.cursor()
    for cursor in (plain, kept, kept):
        cursor.execute(query)
    assert [tuple(c) for c in kept.description] == [tuple(c) for c in plain.description]
