"""Bulk absence import from a school's attendance system."""
from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request

from engine.access.policy import require_client
from engine.casework.absence import AbsenceImport

from ..deps import PrincipalDep
from ..schemas import AbsenceImportIn, AbsenceImportOut

router = APIRouter(tags=["absence"])


@router.post("/absence-reports", response_model=AbsenceImportOut)
def import_absence(body: AbsenceImportIn, request: Request, principal: PrincipalDep):
    """One school's absence for one period, up to 10,000 pupils (role `integrator`).

    Each pupil's report goes to their ladder case, or starts one when the ladder's decision
    table says so. Rows are applied independently: a failed row is listed with its reason and
    nothing of it is stored; the others go in."""
    require_client(principal, "absence", body.skola)
    state = request.app.state
    result = AbsenceImport(state.session_factory, state.clock, state.runner, state.specs).run(
        principal, body.skola, body.period_start.isoformat(), body.period_slut.isoformat(),
        [row.model_dump() for row in body.rows])
    return AbsenceImportOut(**asdict(result))
