"""A step's append-only rows (history, events, its access-log row, day counts) and its new task and timer rows,
written together at its end.

Every statement costs the step about half a millisecond of CPU whatever it does (issue 19's profile), and these
rows are only ever inserted, so a step gathers them here and writes them at once. On PostgreSQL that is one
statement: each table's rows travel as one JSON array, expanded by `jsonb_populate_recordset` in its own
data-modifying CTE, in the order they were added. Elsewhere (SQLite) it is one multi-row INSERT per table.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from engine.core.models import AccessLogEntry, Event, HistoryEntry, ReportDaily, Timer, UserTask

# The tables a step may queue rows for; new task and timer rows too (engine.casework.step_rows.insert_later).
_TABLES = {table.name: table for table in (HistoryEntry.__table__, Event.__table__, AccessLogEntry.__table__,
                                           ReportDaily.__table__, UserTask.__table__, Timer.__table__)}
_ORM_PENDING = (HistoryEntry, Event, AccessLogEntry)


class Appends:
    """Rows to insert, per table, in the order they were added."""

    def __init__(self):
        self.rows: dict[str, list[dict]] = {}

    def add(self, table: Table, rows: list[dict]) -> None:
        """Queue `rows` (all with the same keys) for `table`."""
        if rows:
            self.rows.setdefault(table.name, []).extend(rows)

    def write(self, session: Session) -> None:
        """Insert what is queued, in the session's transaction; rows of these tables the ORM holds go first, so
        history and the access log keep their order."""
        if not self.rows:
            return
        if any(isinstance(pending, _ORM_PENDING) for pending in session.new):
            session.flush()
        connection = session.connection()
        queued, self.rows = self.rows, {}
        if connection.dialect.name != "postgresql":
            for name, rows in queued.items():
                connection.execute(_TABLES[name].insert(), rows)
            return
        shapes = tuple((name, tuple(rows[0])) for name, rows in queued.items())
        connection.execute(_statement(shapes), {f"rows{i}": json.dumps(rows, default=_json_value)
                                                for i, rows in enumerate(queued.values())})


def _json_value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


@lru_cache(maxsize=64)
def _statement(shapes: tuple[tuple[str, tuple[str, ...]], ...]):
    """One INSERT per (table, columns), as CTEs of one statement; built once per shape."""
    inserts = []
    for index, (name, columns) in enumerate(shapes):
        quoted = ", ".join(f'"{column}"' for column in columns)
        picked = ", ".join(f'r."{column}"' for column in columns)
        inserts.append(f'INSERT INTO "{name}" ({quoted}) SELECT {picked} FROM jsonb_populate_recordset('
                       f'NULL::"{name}", CAST(:rows{index} AS jsonb)) WITH ORDINALITY AS r ORDER BY r.ordinality')
    *first, last = inserts
    return text((f"WITH {', '.join(f'a{i} AS ({sql})' for i, sql in enumerate(first))} " if first else "") + last)
