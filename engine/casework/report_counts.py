"""Folding the per-day report counts that steps add.

A step adds its daily counts as rows of its own (engine.casework.report_facts), never updating one that
another step could hold: with a shared counter row every step of the day would queue on its lock, and a
worker stalled mid-transaction would stall every server's steps behind it. Reports sum a key's rows, so
folding them into one is bookkeeping only: the sums are the same before and after.
"""
from __future__ import annotations

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.orm import sessionmaker

from engine.core.models import ReportDaily

KEY = ("process_key", "measure", "day", "unit", "agency", "process_version_id", "detail", "outcome", "value")
_COLUMNS = [getattr(ReportDaily, name) for name in KEY]


def fold(session_factory: sessionmaker, limit: int = 1000) -> int:
    """Fold up to `limit` unfolded rows, with each key's folded row, into one folded row per key; rows folded."""
    with session_factory() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        added = select(ReportDaily.id, ReportDaily.count, *_COLUMNS).where(ReportDaily.folded.is_(False))
        added = added.order_by(ReportDaily.id).limit(limit)
        if postgres:
            added = added.with_for_update(skip_locked=True)  # several workers fold different rows
        rows = session.execute(added).all()
        if not rows:
            return 0
        keys = {tuple(row[2:]) for row in rows}
        earlier = select(ReportDaily.id, ReportDaily.count, *_COLUMNS).where(
            ReportDaily.folded.is_(True), tuple_(*_COLUMNS).in_(list(keys)))
        if postgres:
            earlier = earlier.with_for_update()
        rows += session.execute(earlier).all()
        totals: dict[tuple, int] = {}
        for row in rows:
            totals[tuple(row[2:])] = totals.get(tuple(row[2:]), 0) + row[1]
        session.execute(delete(ReportDaily).where(ReportDaily.id.in_([row[0] for row in rows])))
        folded = [dict(zip(KEY, key), count=total, folded=True) for key, total in totals.items() if total]
        if folded:
            session.execute(insert(ReportDaily), folded)
        session.commit()
        return len(rows)
