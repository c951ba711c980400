"""A step's writes at its end: its append-only rows (history, events, its access-log row, day counts), its new task
and timer rows, and on PostgreSQL its conditional changes (the task taken, old timers deleted, the case's versioned
UPDATE).

Every statement costs the step about half a millisecond of CPU whatever it does (issue 19's profile), so a step
gathers its writes here and writes them at once. On PostgreSQL that is one statement: each table's new rows travel
as one JSON array, expanded by `jsonb_populate_recordset` in its own data-modifying CTE, in the order they were
added; each change is a CTE with RETURNING, whose row count the statement answers and a check judges (a task taken
by someone else, a case changed by someone else: the step raises, and its transaction is rolled back). Elsewhere
(SQLite) a change runs at once and the rows go in one multi-row INSERT per table.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from functools import lru_cache

from typing import Callable

from sqlalchemy import Table, inspect, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from engine.core.models import AccessLogEntry, Event, HistoryEntry, ReportDaily, Timer, UserTask

# The tables a step may queue rows for; new task and timer rows too (engine.casework.step_rows.insert_later).
_TABLES = {table.name: table for table in (HistoryEntry.__table__, Event.__table__, AccessLogEntry.__table__,
                                           ReportDaily.__table__, UserTask.__table__, Timer.__table__)}
_ORM_PENDING = (HistoryEntry, Event, AccessLogEntry)
_UNLOADED = object()


class Appends:
    """Rows to insert, per table, in the order they were added; changes too where all is one statement."""

    def __init__(self):
        self.rows: dict[str, list[dict]] = {}
        self.combined: bool | None = None  # one statement (PostgreSQL); known from the first session seen
        self.changes: list[tuple[str, dict, Callable[[int], None]]] = []  # (SQL, parameters, check of its rows)
        self.assigned: dict = {}  # per object's state: the attributes `assign` set for `update_versioned` to write

    def change(self, session: Session, statement, params: dict, check: Callable[[int], None], combined_sql: str) -> None:
        """A conditional UPDATE or DELETE: `statement` now, or with `combined` its text `combined_sql` (named
        parameters unique in the step, no RETURNING) in the step's one statement; `check(rows)` raises on a wrong
        count of rows changed."""
        if not self._combined(session):
            check(session.connection().execute(statement, params).rowcount)
            return
        self.changes.append((combined_sql, params, check))

    def assign(self, session: Session, obj, values: dict) -> None:
        """Set `obj`'s attributes. With `combined`, those that change are left for `update_versioned` to write and
        set as if loaded, so that the ORM's flush finds nothing of `obj` to look at (its unit of work for a row
        with no changes left cost a twentieth of a step's CPU, issue 19); elsewhere they are set as usual."""
        state = inspect(obj)
        if not self._combined(session) or not state.persistent:
            for name, value in values.items():
                setattr(obj, name, value)
            return
        pending = self.assigned.setdefault(state, {})
        for name, value in values.items():
            if name in pending or state.dict.get(name, _UNLOADED) != value:  # changed, as the ORM would judge
                pending[name] = value
            set_committed_value(obj, name, value)

    def update_versioned(self, session: Session, obj) -> None:
        """With `combined`, `obj`'s changed columns written in the step's one statement with its version check (as
        the ORM's flush would: StaleDataError if another transaction changed it first), and marked as written.
        Elsewhere the ORM's flush writes it."""
        if not self._combined(session):
            return
        state = inspect(obj)
        if not state.persistent:  # a new row is the ORM's INSERT
            return
        version = state.mapper.version_id_col.key
        changed = {**self.assigned.pop(state, {}),
                   **{attr.key: state.dict[attr.key] for attr in state.mapper.column_attrs
                      if attr.key != version and state.attrs[attr.key].history.added}}
        if not changed:
            return
        old = getattr(obj, version)
        key = f"v{len(self.changes)}"
        record = {**changed, "id": obj.id, version: old}  # attribute keys are the column names in these models
        sql = _versioned_update(obj.__table__.name, tuple(changed), version, key)
        self.changes.append((sql, {key: json.dumps(record, default=_json_value)}, _versioned(obj)))
        for name, value in (*changed.items(), (version, old + 1)):
            set_committed_value(obj, name, value)  # what the statement writes, as if the ORM had flushed it

    def add(self, table: Table, rows: list[dict]) -> None:
        """Queue `rows` (all with the same keys) for `table`."""
        if rows:
            self.rows.setdefault(table.name, []).extend(rows)

    def _combined(self, session: Session) -> bool:
        if self.combined is None:
            self.combined = session.get_bind().dialect.name == "postgresql"
        return self.combined

    def write(self, session: Session) -> None:
        """Insert what is queued, in the session's transaction; rows of these tables the ORM holds go first, so
        history and the access log keep their order."""
        if not self.rows and not self.changes:
            return
        if any(isinstance(pending, _ORM_PENDING) for pending in session.new):
            session.flush()
        connection = session.connection()
        queued, self.rows = self.rows, {}
        changes, self.changes = self.changes, []
        if not self._combined(session):
            for name, rows in queued.items():
                connection.execute(_TABLES[name].insert(), rows)
            return
        shapes = tuple((name, tuple(rows[0])) for name, rows in queued.items())
        params = {f"rows{i}": json.dumps(rows, default=_json_value) for i, rows in enumerate(queued.values())}
        for _, change_params, _ in changes:
            if params.keys() & change_params.keys():
                raise ValueError(f"parameters named twice in one step: {sorted(params.keys() & change_params.keys())}")
            params.update(change_params)
        answer = connection.execute(_statement(shapes, tuple(sql for sql, _, _ in changes)), params)
        if changes:
            for (_, _, check), count in zip(changes, answer.one()):
                check(count)


def _json_value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


@lru_cache(maxsize=256)
def _statement(shapes: tuple[tuple[str, tuple[str, ...]], ...], changes: tuple[str, ...] = ()):
    """One INSERT per (table, columns) and the `changes`, as CTEs of one statement that answers each change's
    count of rows (or, without changes, is the last INSERT); built once per shape."""
    inserts = []
    for index, (name, columns) in enumerate(shapes):
        quoted = ", ".join(f'"{column}"' for column in columns)
        picked = ", ".join(f'r."{column}"' for column in columns)
        inserts.append(f'INSERT INTO "{name}" ({quoted}) SELECT {picked} FROM jsonb_populate_recordset('
                       f'NULL::"{name}", CAST(:rows{index} AS jsonb)) WITH ORDINALITY AS r ORDER BY r.ordinality')
    ctes = [f"a{i} AS ({sql})" for i, sql in enumerate(inserts)]
    if not changes:  # the last INSERT is the statement itself
        return text((f"WITH {', '.join(ctes[:-1])} " if len(inserts) > 1 else "") + inserts[-1])
    ctes += [f"c{i} AS ({sql} RETURNING 1)" for i, sql in enumerate(changes)]
    counts = ", ".join(f"(SELECT count(*) FROM c{i})" for i in range(len(changes)))
    return text(f"WITH {', '.join(ctes)} SELECT {counts}")


@lru_cache(maxsize=64)
def _versioned_update(table: str, columns: tuple[str, ...], version: str, key: str) -> str:
    """The UPDATE of one row's `columns` from a JSON record `:key`, where its `version` is still the record's."""
    assigned = ", ".join(f'"{column}" = r."{column}"' for column in columns if column != version)
    return (f'UPDATE "{table}" AS t SET {assigned}, "{version}" = r."{version}" + 1 '
            f'FROM jsonb_populate_record(NULL::"{table}", CAST(:{key} AS jsonb)) AS r '
            f'WHERE t.id = r.id AND t."{version}" = r."{version}"')


def _versioned(obj) -> Callable[[int], None]:
    def check(count: int) -> None:
        if count != 1:
            raise StaleDataError(f"{type(obj).__name__} {obj.id} was changed by another transaction")
    return check
