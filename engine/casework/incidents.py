"""Incidents: a step that fails at run time blocks its case at that element instead of losing it.

The runner stops at the failing element and reports it (engine.bpmn.failures); `track` keeps one
open incident per case in step with what each step reports, and clears it when the case moves
past. Process owners (role processagare) list incidents per process, correct the data the element
will see (an audited change with its own history row) and retry; a fixed model can also be
deployed and the case migrated (engine.casework.migration) before the retry. A thrown message the
engine refuses (a linked case that cannot start) is an incident of kind `message`: its retry
throws the message again.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from engine.access import audit
from engine.access.children import refuse_in_data
from engine.access.identity import Principal
from engine.access.policy import OWNER_ROLE, is_system
from engine.bpmn.failures import Incident as Failure
from engine.bpmn.runner import Snapshot, StepRecord
from engine.core.errors import EngineError, FieldError, InvalidInput, InvalidTransition, NotFound, Refused
from engine.core.models import Case, Incident
from engine.core.paging import Page, keyset_page

STATES = ("open", "resolved")


def require_owner(principal: Principal) -> None:
    if not (principal.has_role(OWNER_ROLE) or is_system(principal)):
        raise Refused(f"incidents are handled by the role {OWNER_ROLE}")


def open_incident(session, case: Case) -> Incident | None:
    """The incident the case is blocked by, if any."""
    return session.get(Incident, case.incident_id) if case.incident_id else None


def _raise(session, case: Case, failure: Failure, kind: str, now: datetime) -> Incident:
    row = Incident(id=str(uuid.uuid4()), case_id=case.id, process_key=case.process_key,
                   process_version_id=case.process_version_id, kind=kind, task_id=failure.task_id,
                   element_id=failure.element_id, element_name=failure.element_name,
                   element_type=failure.element_type, error=failure.error, error_type=failure.error_type,
                   data=failure.data, state="open", attempts=1, created_at=now, updated_at=now)
    session.add(row)
    case.incident_id = row.id
    return row


def _resolve(row: Incident, case: Case, principal: Principal, now: datetime) -> StepRecord:
    row.state, row.resolved_at, row.resolved_by, row.updated_at = "resolved", now, principal.user, now
    case.incident_id = None
    return StepRecord("incident_resolved", row.element_id, row.element_name, row.element_type, row.task_id,
                      details={"incident": row.id, "attempts": row.attempts})


def track(session, case: Case, snapshot: Snapshot, principal: Principal, now: datetime, closing: bool = False) -> None:
    """Keep the case's incident in step with a step's outcome, adding history records to `snapshot`; a case that
    closes (completed, cancelled) closes its incident too."""
    if not snapshot.ran:
        return  # nothing ran: the case is where it was (corrected data, or moved to another version)
    failure, row = snapshot.incident, open_incident(session, case)
    if row is not None and (closing or row.kind == "element" and (failure is None or failure.task_id != row.task_id)):
        snapshot.records.append(_resolve(row, case, principal, now))
        row = None
    if failure is None:
        return
    for record in snapshot.records:
        if record.event == "incident_raised":
            record.details = {**(record.details or {}), "attempts": row.attempts + 1 if row else 1}
    if row is not None:  # the same element failed again (a retry, or a later step ran into it)
        row.attempts += 1
        row.error, row.error_type, row.data, row.updated_at = failure.error, failure.error_type, failure.data, now
        row.process_version_id = case.process_version_id
        return
    row = _raise(session, case, failure, "element", now)
    for record in snapshot.records:
        if record.event == "incident_raised":
            record.details["incident"] = row.id


def message_refused(session, case: Case, payload, error: EngineError, principal: Principal, now: datetime,
                    element: str) -> StepRecord:
    """Block the case on a thrown message the engine refused; returns the history record."""
    failure = Failure(None, element, element, "Message", error.detail, type(error).__name__,
                      {"payload": payload})
    row = open_incident(session, case)
    if row is not None and row.kind == "message":
        row.attempts += 1
        row.error, row.updated_at = error.detail, now
    else:
        row = _raise(session, case, failure, "message", now)
    return StepRecord("incident_raised", element, element, "Message", None,
                      details={"incident": row.id, "error": error.detail, "attempts": row.attempts})


class IncidentService:
    """Incidents for process owners: list, read, correct the data, retry; the caller owns the transaction."""

    def __init__(self, cases):
        self.cases, self.session, self.clock = cases, cases.session, cases.clock

    def list(self, principal: Principal, process_key: str | None, state: str, cursor: str | None,
             limit: int) -> Page:
        """Incidents by process, oldest first; each case listed is logged as read."""
        require_owner(principal)
        if state not in STATES:
            raise InvalidInput(f"no incident state {state!r}", [FieldError("/state", f"one of: {', '.join(STATES)}")])
        query = select(Incident).where(Incident.state == state)
        if process_key:
            query = query.where(Incident.process_key == process_key)
        page = keyset_page(self.session, query, Incident.created_at, Incident.id, cursor, limit)
        audit.record(self.session, self.clock, principal, [i.case_id for i in page.items], "read", "incident list")
        return page

    def get(self, principal: Principal, incident_id: str) -> Incident:
        """One incident with the data it saw; the read is logged against its case."""
        require_owner(principal)
        row = self.session.get(Incident, incident_id)
        if row is None:
            raise NotFound(f"no incident with id {incident_id}")
        audit.record(self.session, self.clock, principal, [row.case_id], "read", "incident")
        return row

    def _open(self, principal: Principal, incident_id: str) -> tuple[Incident, Case]:
        row = self.get(principal, incident_id)
        if row.state != "open":
            raise InvalidTransition(f"incident {incident_id} is {row.state}")
        case = self.cases.load(row.case_id)
        if case.status != "open":
            raise InvalidTransition(f"case {case.id} is {case.status}")
        return row, case

    def correct(self, principal: Principal, incident_id: str, changes: dict, removed: list[str]) -> Incident:
        """Change the data the failed element will run on (for a message incident: its payload); audited, and a
        `data_corrected` history entry shows who changed what. The element is not run: retry does that."""
        row, case = self._open(principal, incident_id)
        refuse_in_data(changes, self.clock)
        if not changes and not removed:
            raise InvalidInput("a correction changes something", [FieldError("/set", "give set or remove")])
        if row.kind == "message":
            payload = dict(row.data.get("payload") or {})
            data = {**dict(payload.get("data") or {}), **changes}
            for key in removed:
                data.pop(key, None)
            row.data = {"payload": {**payload, "data": data}}
            record = StepRecord("data_corrected", row.element_id, row.element_name, "Message", None,
                                {"set": changes, **({"removed": removed} if removed else {})})
            self.cases.record_history(case, principal, self.clock.now(), record)
        else:
            snapshot = self.cases.runner.correct(self.cases.workflow_of(case), row.task_id, changes, removed)
            self.cases.apply(case, snapshot, principal)
            row.data = {**row.data, **changes}
            for key in removed:
                row.data.pop(key, None)
        audit.record(self.session, self.clock, principal, [case.id], "write", "incident data corrected")
        self.session.flush()
        return row

    def retry(self, principal: Principal, incident_id: str) -> Incident:
        """Run the failed step again; the incident is resolved if it passes, or stays open with the new error."""
        row, case = self._open(principal, incident_id)
        if case.suspended_at is not None:
            raise InvalidTransition(f"case {case.id} is suspended; resume it before retrying")
        now = self.clock.now()
        if row.kind == "message":
            payload = row.data.get("payload")
            try:
                with self.session.begin_nested():
                    self.cases.start_linked(case, principal, payload)
            except EngineError as exc:
                self.cases.record_history(case, principal, now, message_refused(
                    self.session, case, payload, exc, principal, now, row.element_id))
            else:
                self.cases.record_history(case, principal, now, _resolve(row, case, principal, now))
        else:
            self.cases.apply(case, self.cases.runner.retry(self.cases.workflow_of(case)), principal)
        audit.record(self.session, self.clock, principal, [case.id], "write", "incident retried")
        self.session.flush()
        return row
