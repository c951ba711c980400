"""Keyset (cursor) paging: stable under inserts, cheap at any depth."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session

from engine.core.errors import FieldError, InvalidInput


@dataclass
class Page:
    items: list
    next_cursor: str | None


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _invalid() -> InvalidInput:
    return InvalidInput("invalid cursor", [FieldError("/cursor", "not a cursor returned by this endpoint")])


def _decode(cursor: str, id_type: type) -> list:
    """The cursor's values, each of the kind this endpoint writes (a hand-made one never reaches the database)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise _invalid() from None
    if not isinstance(values, list) or not 1 <= len(values) <= 2:
        raise _invalid()
    key, stamps = values[-1], values[:-1]
    wrong_key = type(key) is not id_type or (id_type is int and not -2**31 <= key < 2**31) or \
        (id_type is str and len(key) > 100)
    if wrong_key or any(not isinstance(s, str) or len(s) > 40 for s in stamps):
        raise _invalid()
    return values


def keyset_page(session: Session, query, ts_col, id_col, cursor: str | None, limit: int,
                descending: bool = False) -> Page:
    """One page of `query` ordered by (ts_col, id_col), newest first if `descending`; ts_col may be None."""
    if cursor:
        values = _decode(cursor, id_col.type.python_type)
        try:
            after = (lambda col, v: col < v) if descending else (lambda col, v: col > v)
            if ts_col is None:
                query = query.where(after(id_col, values[-1]))
            else:
                ts = datetime.fromisoformat(values[0])
                query = query.where(or_(after(ts_col, ts), and_(ts_col == ts, after(id_col, values[1]))))
        except (TypeError, ValueError, IndexError):
            raise _invalid() from None
    order = [id_col] if ts_col is None else [ts_col, id_col]
    if descending:
        order = [col.desc() for col in order]
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        key = getattr(last, id_col.key)
        next_cursor = _encode([key] if ts_col is None else [getattr(last, ts_col.key).isoformat(), key])
    return Page(rows, next_cursor)
