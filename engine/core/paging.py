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


def _decode(cursor: str) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or not 1 <= len(values) <= 2:
            raise ValueError
        return values
    except ValueError:
        raise InvalidInput("invalid cursor", [FieldError("/cursor", "not a cursor returned by this endpoint")]) from None


def keyset_page(session: Session, query, ts_col, id_col, cursor: str | None, limit: int,
                descending: bool = False) -> Page:
    """One page of `query` ordered by (ts_col, id_col), newest first if `descending`; ts_col may be None."""
    if cursor:
        values = _decode(cursor)
        try:
            after = (lambda col, v: col < v) if descending else (lambda col, v: col > v)
            if ts_col is None:
                query = query.where(after(id_col, values[-1]))
            else:
                ts = datetime.fromisoformat(values[0])
                query = query.where(or_(after(ts_col, ts), and_(ts_col == ts, after(id_col, values[1]))))
        except (TypeError, ValueError, IndexError):
            raise InvalidInput("invalid cursor", [FieldError("/cursor", "not a cursor returned by this endpoint")]) from None
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
