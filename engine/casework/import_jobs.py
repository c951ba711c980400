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
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.access.identity import Principal
from engine.casework.absence import AbsenceImport
from engine.core.clock import Clock
from engine.core.errors import NotFound
from engine.core.models import ImportJob

LEASE = timedelta(minutes=2)
log = structlog.get_logger("samverka.import_jobs")


def _principal_data(principal: Principal) -> dict:
    return {"user": principal.user, "agency": principal.agency, "roles": sorted(principal.roles),
            "client": principal.client, "scopes": sorted(principal.scopes)}


def _principal(data: dict) -> Principal:
    return Principal(user=data["user"], agency=data["agency"], roles=frozenset(data["roles"]), client=data["client"],
                     scopes=frozenset(data["scopes"]))


def submit(session: Session, clock: Clock, principal: Principal, request: dict) -> ImportJob:
    """Queue an import (`request`: skola, period_start, period_slut, rows) in the caller's transaction."""
    job = ImportJob(id=str(uuid.uuid4()), owner=principal.user, principal=_principal_data(principal),
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

    def _claim(self) -> ImportJob | None:
        with self.session_factory() as session:
            now = self.clock.now()
            query = (select(ImportJob).where(or_(ImportJob.status == "queued", (ImportJob.status == "running") &
                                                 (ImportJob.lease_until < now)))
                     .order_by(ImportJob.created_at).limit(1))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            job = session.scalar(query)
            if job is None:
                return None
            job.status, job.lease_until = "running", now + LEASE
            job.started_at = job.started_at or now
            session.commit()
            return job

    def _progress(self, job_id: str, processed: int) -> None:
        with self.session_factory() as session:
            session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                processed=processed, lease_until=self.clock.now() + LEASE))
            session.commit()

    def run_once(self) -> bool:
        """Run one queued job to its end; False if there was none."""
        job = self._claim()
        if job is None:
            return False
        request = job.request
        log.info("import_job_started", job_id=job.id, rows=job.total, worker=self.name)
        result = self.importer.run(_principal(job.principal), request["skola"],
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
