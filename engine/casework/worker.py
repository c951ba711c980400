"""The timer worker: fires due timers exactly once in effect, with any number of workers on one database.

Each batch is one transaction: claim (lock) due cases, fire them, commit. A worker killed
mid-batch leaves nothing behind: its transaction rolls back, its locks go with its
connection, and the next claim (by any worker) picks the cases up again. A batch that
fails is retried case by case so one broken case cannot hold up the others.
"""
from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework.absence import AbsenceImport
from engine.casework.cases import CaseService
from engine.casework import report_counts
from engine.casework.import_jobs import ImportJobRunner
from engine.casework.migration_jobs import LEASE as MIGRATION_LEASE
from engine.casework.migration_jobs import MigrationJobRunner
from engine.casework.retention import Culler
from engine.casework.timers import Fired, TimerService
from engine.core.clock import Clock
from engine.core.errors import EngineError
from engine.core.models import Case
from engine.integration.webhooks import Deliverer

LAG = Histogram("samverka_timer_lag_seconds", "Seconds between a timer's due time and its firing",
                buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86400))
FIRED = Counter("samverka_timers_fired", "Timers fired", ["process_key"])
FAILED = Counter("samverka_timer_failures", "Failed attempts to fire a case's timers", ["process_key"])
RESTARTS = Counter("samverka_worker_loop_restarts", "Worker loops that died of an unexpected error and were restarted",
                   ["loop"])

log = structlog.get_logger("samverka.worker")


@dataclass
class Batch:
    claimed: int = 0
    fired: list[Fired] = field(default_factory=list)


class Worker:
    """Fires due timers by the given clock; `run` loops until stopped, `run_until_idle` until nothing is due."""

    def __init__(self, session_factory: sessionmaker, clock: Clock, runner: Runner | None = None,
                 specs: SpecCache | None = None, batch_size: int = 20, poll_seconds: float = 1.0,
                 name: str | None = None, deliverer: Deliverer | None = None, culler: Culler | None = None,
                 migration_lease: timedelta = MIGRATION_LEASE):
        self.session_factory, self.clock = session_factory, clock
        self.runner = runner or Runner(clock)
        self.specs = specs or SpecCache()
        self.batch_size, self.poll_seconds = batch_size, poll_seconds
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"
        self.deliverer = deliverer  # webhook deliveries share the loop: both are the worker's, never a request's
        self.culler, self._culled_at = culler, None  # gallring, looked at once an hour
        self.jobs = ImportJobRunner(session_factory, clock, AbsenceImport(session_factory, clock, self.runner,
                                                                          self.specs), self.name)
        self.migrations = MigrationJobRunner(session_factory, clock, self.runner, self.specs, self.name,
                                             migration_lease)

    def _service(self, session) -> TimerService:
        return TimerService(CaseService(session, self.clock, self.runner, self.specs))

    def run_once(self) -> Batch:
        """Claim one batch of due cases and fire them in one transaction."""
        with self.session_factory() as session:
            service = self._service(session)
            ids = service.claim(self.batch_size)
            if not ids:
                return Batch()
            try:
                fired = [f for case_id in ids for f in service.fire(case_id)]
                session.commit()
                return Batch(len(ids), self._report(fired))
            except Exception:  # noqa: BLE001 - retried case by case below, where failures are put off
                session.rollback()
        batch = Batch(len(ids))
        for case_id in ids:
            batch.fired += self._fire_alone(case_id)
        return batch

    def _fire_alone(self, case_id: str) -> list[Fired]:
        with self.session_factory() as session:
            service = self._service(session)
            if not self._lock(session, case_id):
                return []
            try:
                fired = service.fire(case_id)
                session.commit()
                return self._report(fired)
            except (StaleDataError, OperationalError):
                # The case changed under us (SQLite has no row locks) or the database hiccuped: next round.
                session.rollback()
                return []
            except Exception as exc:  # noqa: BLE001 - any failure is recorded on the timer, never lost
                session.rollback()
                error = exc.detail if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
                error_type = type(exc).__name__
        with self.session_factory() as session:
            if self._lock(session, case_id):
                self._service(session).defer(case_id, error)
                session.commit()
            process_key = session.scalar(select(Case.process_key).where(Case.id == case_id)) or ""
        FAILED.labels(process_key).inc()
        log.warning("timer_failed", case_id=case_id, error_type=error_type, worker=self.name)
        return []

    @staticmethod
    def _lock(session, case_id: str) -> bool:
        query = select(Case.id).where(Case.id == case_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return session.scalar(query) is not None

    def _report(self, fired: list[Fired]) -> list[Fired]:
        for f in fired:
            LAG.observe(max(f.lag_seconds, 0.0))
            FIRED.labels(f.process_key).inc()
            log.info("timer_fired", case_id=f.case_id, process_key=f.process_key, timer_id=f.timer_id,
                     element_id=f.element_id, due_at=f.due_at.isoformat(), lag_seconds=round(f.lag_seconds, 3),
                     deadline_of=f.deadline_of, worker=self.name)
        return fired

    def _cull_hourly(self) -> None:
        now = self.clock.now()
        if self.culler and (self._culled_at is None or now - self._culled_at >= timedelta(hours=1)):
            self._culled_at = now
            self.culler.run_until_idle()

    def run_until_idle(self) -> list[Fired]:
        """Fire batches until no due timer is left (by this worker's clock)."""
        fired: list[Fired] = []
        while (batch := self.run_once()).claimed:
            fired += batch.fired
        return fired

    def run(self, stop: threading.Event) -> None:
        """Fire due timers until `stop` is set; webhook deliveries and absence imports run in loops of their own,
        so a slow receiver or a long import never holds a deadline back. A loop that dies is restarted."""
        log.info("worker_started", worker=self.name, batch_size=self.batch_size)
        sides = [threading.Thread(target=self._supervised, args=(name, loop, stop), name=f"samverka-{name}",
                                  daemon=True)
                 for name, loop in (("webhooks", self._delivery_loop if self.deliverer else None),
                                    ("imports", self._import_loop)) if loop is not None]
        for side in sides:
            side.start()
        self._supervised("timers", self._timer_loop, stop)
        for side in sides:
            side.join(30)
        log.info("worker_stopped", worker=self.name)

    def _supervised(self, name: str, loop, stop: threading.Event) -> None:
        """Run `loop` until `stop` is set; one that dies of an unexpected error is logged, counted and restarted."""
        while not stop.is_set():
            try:
                loop(stop)
                return
            except Exception:  # noqa: BLE001 - a dead loop would leave its work undone for good
                log.exception("worker_loop_died", loop=name, worker=self.name)
                RESTARTS.labels(name).inc()
                stop.wait(min(self.poll_seconds, 1.0))

    def _sleep(self, stop: threading.Event, next_at) -> None:
        wait = self.poll_seconds
        if next_at is not None:
            wait = min(wait, max((next_at - self.clock.now()).total_seconds(), 0.0))
        stop.wait(wait)

    def _timer_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._cull_hourly()
                if self.run_once().claimed:
                    continue
                with self.session_factory() as session:
                    next_at = self._service(session).next_fire_at()
            except OperationalError as exc:  # database away: wait and try again, never die
                log.warning("worker_database_error", error=str(exc.orig)[:200], worker=self.name)
                next_at = None
            self._sleep(stop, next_at)

    def _delivery_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if self.deliverer.run_once():
                    continue
                next_at = self.deliverer.next_attempt_at()
            except OperationalError as exc:
                log.warning("worker_database_error", error=str(exc.orig)[:200], worker=self.name, loop="webhooks")
                next_at = None
            self._sleep(stop, next_at)

    def _import_loop(self, stop: threading.Event) -> None:
        # Absence imports and migrations: long jobs, each in its leased, resumable run (one per turn each);
        # and the folding of the report counts steps added.
        while not stop.is_set():
            try:
                if self.jobs.run_once() | self.migrations.run_once() | bool(report_counts.fold(self.session_factory)):
                    continue
            except OperationalError as exc:
                log.warning("worker_database_error", error=str(exc.orig)[:200], worker=self.name, loop="imports")
            stop.wait(self.poll_seconds)
