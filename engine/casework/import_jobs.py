"""Absence imports as jobs: accepted at once (202), run by a worker, followed by their progress.

The job keeps the request and the client that sent it, so any worker can run it. A worker holds
a job by a lease it renews as chunks commit; a worker that dies lets the lease run out and the
next one runs the job again from the start, which changes nothing for rows already applied (a
report is identified by school, pupil and period: see engine.casework.absence).
"""
from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, timedelta

import structlog
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from engine.access.identity import Principal, principal_data, principal_from
from engine.casework.absence import AbsenceImport
from engine.casework.leased_jobs import claim_leased
from engine.core.clock import Clock
from engine.core.errors import NotFound
from engine.core.models import ImportJob

LEASE = timedelta(minutes=2)
log = structlog.get_logger("samverka.import_jobs")


def submit(session: Session, clock: Clock, principal: Principal, request: dict) -> ImportJob:
    """Queue an import (`request`: skola, period_start, period_slut, rows) in the caller's transaction."""
    job = ImportJob(id=str(uuid.uuid4()), owner=principal.user, principal=principal_data(principal),
                    request=request, status="queued", total=len(request["rows"]), processed=0,
                    created_at=clock.now())
    session.add(job)
    session.flush()
    return job


def get(session: Session, principal: Principal, job_id: str) -> ImportJob:
    """The job, for the client that submitted it; NotFound for anyone else."""
    job = session.get(ImportJob, job_id)
    if job is None or job.owner != principal.user:
        raise NotFound(f"no import job with id {job_id}")
    return job


class ImportJobRunner:
    """Runs queued imports, one at a time per worker; safe with several workers on one database."""

    def __init__(self, session_factory: sessionmaker, clock: Clock, importer: AbsenceImport, name: str):
        self.session_factory, self.clock, self.importer, self.name = session_factory, clock, importer, name

    def _progress(self, job_id: str, processed: int) -> None:
        with self.session_factory() as session:
            session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                processed=processed, lease_until=self.clock.now() + LEASE))
            session.commit()

    def run_once(self) -> bool:
        """Run one queued job to its end; False if there was none."""
        job = claim_leased(self.session_factory, ImportJob, self.clock.now(), LEASE)
        if job is None:
            return False
        request = job.request
        log.info("import_job_started", job_id=job.id, rows=job.total, worker=self.name)
        result = self.importer.run(principal_from(job.principal), request["skola"],
                                   date.fromisoformat(request["period_start"]),
                                   date.fromisoformat(request["period_slut"]), request["rows"],
                                   progress=lambda processed: self._progress(job.id, processed))
        with self.session_factory() as session:
            session.execute(update(ImportJob).where(ImportJob.id == job.id).values(
                status="done", processed=result.processed, result=asdict(result), finished_at=self.clock.now(),
                lease_until=None))
            session.commit()
        log.info("import_job_done", job_id=job.id, delivered=result.delivered, failed=len(result.failed),
                 worker=self.name)
        return True
