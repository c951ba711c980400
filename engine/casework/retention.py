"""Gallring: the personal data of cases closed longer ago than the retention period are culled.

What goes: the case data and its per-agency origins, the serialized workflow (it holds the
data too), the data and details of every history step, the case's business keys and its
link to the child's number (the number itself once no case refers to it), and the absence figures
reported for it. What stays: that
the case existed, its process, status and dates, who took part, the steps without their
data, and the whole access log, which the law requires to be kept longer. Culling writes a
`cull` row to the access log and a `case_culled` step, and is announced as an event so that
integrators can cull their copies.
"""
from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import delete, exists, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from engine.access import audit
from engine.access.identity import Principal
from engine.bpmn.runner import StepRecord
from engine.casework.step_rows import write_history
from engine.core.clock import Clock
from engine.core.models import AbsenceReport, Case, CaseCorrelation, Child, HistoryEntry, TaskPart

CULLER = Principal(user="samverka-gallring", roles=frozenset({"system"}), client="worker")
log = structlog.get_logger("samverka.retention")


class Culler:
    """Culls due cases in batches, each batch one transaction; safe with several workers."""

    def __init__(self, session_factory: sessionmaker, clock: Clock, retention_days: int, batch_size: int = 100):
        self.session_factory, self.clock = session_factory, clock
        self.retention, self.batch_size = timedelta(days=retention_days), batch_size

    def _due(self, session: Session) -> list[Case]:
        query = (select(Case).where(Case.status != "open", Case.culled_at.is_(None),
                                    Case.closed_at <= self.clock.now() - self.retention)
                 .order_by(Case.closed_at, Case.id).limit(self.batch_size))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(session.scalars(query))

    def run_once(self) -> int:
        """Cull one batch of due cases; the number culled."""
        with self.session_factory() as session:
            cases = self._due(session)
            for case in cases:
                self._cull(session, case)
            session.commit()
            if cases and session.get_bind().dialect.name == "sqlite":
                # The write-ahead log still holds the old pages: fold it into the file (where secure_delete
                # zeroed them) and truncate it, so the culled data are in neither.
                session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        for case in cases:
            log.info("case_culled", case_id=case.id, process_key=case.process_key)
        return len(cases)

    def run_until_idle(self) -> int:
        total = 0
        while culled := self.run_once():
            total += culled
        return total

    def _cull(self, session: Session, case: Case) -> None:
        now, child_id = self.clock.now(), case.child_id
        case.data, case.data_origin, case.state, case.child_id, case.culled_at = {}, {}, "", None, now
        session.execute(update(HistoryEntry).where(HistoryEntry.case_id == case.id)
                        .values(data_changes=None, details=None))
        session.execute(delete(CaseCorrelation).where(CaseCorrelation.case_id == case.id))
        session.execute(delete(AbsenceReport).where(AbsenceReport.case_id == case.id))  # the pupil's figures
        session.execute(delete(TaskPart).where(TaskPart.case_id == case.id))  # what each seat wrote in its part
        session.flush()
        if child_id and not session.scalar(select(exists().where(Case.child_id == child_id))):
            session.execute(delete(Child).where(Child.id == child_id))
        days = self.retention.days
        write_history(session, case, CULLER, now, StepRecord("case_culled", None, None, None,
                                                             details={"retention_days": days}))
        audit.record(session, self.clock, CULLER, [case.id], "cull", f"gallring {days} dagar efter avslut")
