"""Migration jobs, run by a worker case by case (the leased-job pattern of engine.casework.import_jobs).

Each case is moved in its own transaction that also advances the job (cursor, counts, lease), so
the job's progress and the cases agree at every commit: a worker killed mid-case rolls that case
back whole, and the next worker to claim the job (once the lease has run out) goes on after the
cursor. A case that changed under the migration (optimistic version check) is tried again.
"""
from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.access.identity import principal_from
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework.cases import CaseService
from engine.casework.leased_jobs import claim_leased
from engine.casework.migration import case_query, move, sources
from engine.core.clock import Clock
from engine.core.models import Case, MigrationJob, ProcessVersion

LEASE = timedelta(seconds=30)
log = structlog.get_logger("samverka.migration_jobs")


class MigrationJobRunner:
    """Runs queued migrations; safe with several workers on one database."""

    def __init__(self, session_factory: sessionmaker, clock: Clock, runner: Runner, specs: SpecCache, name: str,
                 lease: timedelta = LEASE):
        self.session_factory, self.clock, self.runner, self.specs = session_factory, clock, runner, specs
        self.name, self.lease = name, lease

    def _step(self, job_id: str) -> bool:
        """Move (or refuse) the next case after the cursor, with the job's progress; False when none is left."""
        with self.session_factory() as session:
            job = session.get(MigrationJob, job_id)
            target = session.scalar(select(ProcessVersion).where(ProcessVersion.key == job.process_key,
                                                                 ProcessVersion.version == job.to_version))
            versions = sources(session, job.process_key, job.from_version, target)
            query = case_query(job.process_key, [v.id for v in versions]).limit(1)
            if job.cursor is not None:
                query = query.where(Case.id > job.cursor)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            case = session.scalar(query)
            if case is None:
                job.status, job.finished_at, job.lease_until = "done", self.clock.now(), None
                session.commit()
                return False
            cases = CaseService(session, self.clock, self.runner, self.specs)
            principal = principal_from(job.principal)
            from_version = cases.version_of(case).version
            plan = move(cases, principal, case, target, {m["from"]: m["to"] for m in job.mapping})
            job.processed, job.cursor, job.lease_until = job.processed + 1, case.id, self.clock.now() + self.lease
            if plan.movable:
                job.moved += 1
            else:
                job.refused = [*job.refused, {"case_id": case.id, "from_version": from_version,
                                              "reasons": plan.reasons}]
            session.commit()
            return True

    def run_once(self) -> bool:
        """Run one queued (or abandoned) migration to its end; False if there was none."""
        job = claim_leased(self.session_factory, MigrationJob, self.clock.now(), self.lease)
        job_id = job and job.id
        if job_id is None:
            return False
        log.info("migration_started", job_id=job_id, worker=self.name)
        while True:
            try:
                if not self._step(job_id):
                    break
            except StaleDataError:
                continue  # the case changed while we moved it: nothing of it was kept, try it again
        log.info("migration_done", job_id=job_id, worker=self.name)
        return True
