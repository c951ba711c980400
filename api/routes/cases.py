"""Cases (ärenden): start, read, list, cancel and their history."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from engine.casework.suspension import SuspensionService
from engine.core.models import HistoryEntry

from ..deps import CasesDep, PrincipalDep, StepDep
from ..incident_schemas import SuspendIn
from ..schemas import Actor, BlockedOut, CaseCreate, CaseOut, CaseSummary, HistoryOut, LinkOut, MessageIn, Page, TaskOut, TimerOut

router = APIRouter(prefix="/cases", tags=["cases"])
Limit = Annotated[int, Query(ge=1, le=500)]


def _case_out(cases, principal, case_id: str, what: str = "case") -> CaseOut:
    view = cases.view(principal, case_id, what)
    return CaseOut(**CaseSummary.model_validate(view.case).model_dump(), process_version=view.process_version,
                   barn_personnummer=view.barn_personnummer, data=view.data,
                   open_tasks=[TaskOut.model_validate(t) for t in view.open_tasks],
                   timers=[TimerOut.model_validate(t) for t in view.timers],
                   links=[LinkOut.model_validate(link) for link in view.links],
                   blocked_by=BlockedOut.model_validate(view.incident) if view.incident else None)


@router.post("", response_model=CaseOut, status_code=201)
def start_case(body: CaseCreate, cases: CasesDep, principal: PrincipalDep):
    """Start a case on the newest version of a process; it runs to its first wait state."""
    case = cases.start(principal, body.process_key, body.data, personnummer=body.barn_personnummer, unit=body.unit)
    return _case_out(cases, principal, case.id)


@router.get("", response_model=Page[CaseSummary])
def list_cases(cases: CasesDep, principal: PrincipalDep, process_key: str | None = None,
               status: Literal["open", "completed", "cancelled"] | None = None,
               cursor: str | None = None, limit: Limit = 50):
    """The cases you take part in, oldest first, filtered by process and status; page on with `cursor`."""
    page = cases.list(principal, process_key, status, cursor, limit)
    return Page[CaseSummary](items=[CaseSummary.model_validate(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/{case_id}", response_model=CaseOut)
async def get_case(case_id: str, cases: CasesDep, principal: PrincipalDep, step: StepDep):
    """A case: status, process version, data, open tasks and pending timers.

    You see the data your agency recorded, and other agencies' only while the guardians'
    consent covers both. A case you may not read answers 404."""
    return await step(_case_out, cases, principal, case_id)


@router.post("/{case_id}/cancel", response_model=CaseOut)
def cancel_case(case_id: str, cases: CasesDep, principal: PrincipalDep):
    """Cancel an open case: its open tasks are cancelled and its timers dropped."""
    cases.cancel(principal, case_id)
    return _case_out(cases, principal, case_id)


@router.post("/{case_id}/suspend", response_model=CaseSummary)
def suspend_case(case_id: str, cases: CasesDep, principal: PrincipalDep, body: SuspendIn | None = None):
    """Suspend an open case (role `processagare`): its tasks cannot be completed (409), its timers wait and
    fire, late, on resume, and messages for it are held until then. A history entry and a `case.suspended` event.
    Suspending a suspended case changes nothing."""
    return CaseSummary.model_validate(SuspensionService(cases).suspend(principal, case_id,
                                                                       body.reason if body else None))


@router.post("/{case_id}/resume", response_model=CaseSummary)
def resume_case(case_id: str, cases: CasesDep, principal: PrincipalDep):
    """Resume a suspended case where it stopped (role `processagare`): held messages are delivered in order and
    timers that came due meanwhile fire at the worker's next turn. A history entry and a `case.resumed` event.
    Resuming a case that is not suspended changes nothing."""
    return CaseSummary.model_validate(SuspensionService(cases).resume(principal, case_id))


@router.post("/{case_id}/messages", response_model=CaseOut)
def send_message(case_id: str, body: MessageIn, cases: CasesDep, principal: PrincipalDep):
    """Deliver a BPMN message to the case (e.g. consent withdrawn, a decision on myndighetsutövning).

    404 if the process has no such message, 409 if no part of the case is waiting for it."""
    cases.deliver(principal, case_id, body.name, body.data)
    return _case_out(cases, principal, case_id)


def _history_out(entry: HistoryEntry) -> HistoryOut:
    return HistoryOut(id=entry.id, at=entry.at, event=entry.event, element_id=entry.element_id,
                      element_name=entry.element_name, element_type=entry.element_type, task_id=entry.task_id,
                      actor=Actor(user=entry.actor_user, agency=entry.actor_agency, roles=entry.actor_roles),
                      data_changes=entry.data_changes, details=entry.details,
                      redacted=getattr(entry, "redacted", False))


@router.get("/{case_id}/history", response_model=Page[HistoryOut])
def case_history(case_id: str, cases: CasesDep, principal: PrincipalDep, cursor: str | None = None,
                 limit: Limit = 200):
    """Every step of the case in order: element, event, who, when and what data changed.

    Steps another agency recorded show without their data (`redacted`) unless consent covers both agencies."""
    page = cases.history(principal, case_id, cursor, limit)
    return Page[HistoryOut](items=[_history_out(e) for e in page.items], next_cursor=page.next_cursor)


