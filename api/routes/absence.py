"""Absence reports from a school's attendance system: one period at a time, at once or as a job."""
from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from engine.access.policy import require_client
from engine.casework import idempotency, import_jobs
from engine.casework.absence import AbsenceImport

from ..deps import PrincipalDep, SessionDep
from ..schemas import AbsenceImportIn, AbsenceImportOut, ImportJobOut

router = APIRouter(tags=["absence"])
IdempotencyKey = Annotated[str | None, Header(max_length=200, pattern=r"^[\x21-\x7e]+$")]


@router.post("/absence-reports", response_model=AbsenceImportOut,
             responses={202: {"model": ImportJobOut, "description": "Accepted as a job (`Prefer: respond-async`)"}})
def import_absence(body: AbsenceImportIn, request: Request, principal: PrincipalDep,
                   session: SessionDep, idempotency_key: IdempotencyKey = None,
                   prefer: Annotated[str | None, Header(max_length=200)] = None):
    """One school's absence for one period, up to 10,000 pupils (an integration client with `absence:SCHOOL`).

    Pupils are found by their reference within the school. Each report goes to the pupil's ladder
    case, or starts one when the ladder's decision table says so. A report is identified by school,
    pupil and period: sent again with the same figures it changes nothing (`unchanged`); other
    figures need `rattelse: true` and are recorded as a correction. Rows are applied
    independently: a failed row is listed with its reason and nothing of it is stored.

    With `Idempotency-Key`, a retried request gets the first answer. With `Prefer: respond-async`
    the import is accepted as a job (202, `Location`) that a worker runs; follow it at
    `GET /absence-reports/jobs/{id}`."""
    require_client(principal, "absence", body.skola)
    state = request.app.state
    payload = body.model_dump(mode="json")
    hashed = idempotency.request_hash("absence", payload)
    if (prior := idempotency.replay(session, principal, idempotency_key, hashed)) is not None:
        return _accepted(prior) if "status" in prior else prior
    if prefer and "respond-async" in prefer.lower():
        job = import_jobs.submit(session, state.clock, principal, payload)
        answer = ImportJobOut.model_validate(job, from_attributes=True).model_dump(mode="json")
        idempotency.remember(session, state.clock, principal, idempotency_key, hashed, answer)
        return _accepted(answer)
    result = AbsenceImport(state.session_factory, state.clock, state.runner, state.specs).run(
        principal, body.skola, body.period_start, body.period_slut, [row.model_dump() for row in body.rows])
    answer = AbsenceImportOut(**asdict(result)).model_dump(mode="json")
    with state.session_factory() as own:  # the rows committed in their own transactions; so does the answer
        idempotency.remember_alone(own, state.clock, principal, idempotency_key, hashed, answer)
    return answer


def _accepted(job: dict) -> JSONResponse:
    return JSONResponse(job, status_code=202, headers={"Location": f"/absence-reports/jobs/{job['id']}"})


@router.get("/absence-reports/jobs/{job_id}", response_model=ImportJobOut)
def import_job(job_id: str, principal: PrincipalDep, session: SessionDep):
    """An import job's progress and, when done, its result; only the client that sent it sees it."""
    job = import_jobs.get(session, principal, job_id)
    return ImportJobOut.model_validate(job, from_attributes=True)
