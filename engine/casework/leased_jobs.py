"""A worker's lease on a queued job (absence imports, migrations).

A worker claims the oldest queued job, or one whose lease has run out (its worker died), and holds
it by a lease it renews. The job keeps its submitter (engine.access.identity.principal_data).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import sessionmaker


def claim_leased(session_factory: sessionmaker, job_model, now: datetime, lease: timedelta):
    """Lease the oldest queued job of `job_model` (or one whose lease ran out) and commit; None if there is none."""
    with session_factory() as session:
        query = (select(job_model).where(or_(job_model.status == "queued",
                                             (job_model.status == "running") & (job_model.lease_until < now)))
                 .order_by(job_model.created_at).limit(1))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)  # several workers: each takes another job
        job = session.scalar(query)
        if job is None:
            return None
        job.status, job.lease_until = "running", now + lease
        job.started_at = job.started_at or now
        session.commit()
        return job
