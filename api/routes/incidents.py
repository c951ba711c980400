"""Incidents: steps that failed at run time, for process owners to correct and retry."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from engine.casework.incidents import IncidentService

from ..deps import CasesDep, PrincipalDep
from ..incident_schemas import CorrectionIn, IncidentDetailOut, IncidentOut
from ..schemas import Page

router = APIRouter(prefix="/incidents", tags=["incidents"])
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("", response_model=Page[IncidentOut])
def list_incidents(cases: CasesDep, principal: PrincipalDep, process_key: str | None = None,
                   state: Literal["open", "resolved"] = "open", cursor: str | None = None, limit: Limit = 50):
    """Cases stopped at a step that failed, per process, oldest first (role `processagare`): the element, the error
    in plain words, how many attempts. Each case listed is logged as read."""
    page = IncidentService(cases).list(principal, process_key, state, cursor, limit)
    return Page[IncidentOut](items=[IncidentOut.model_validate(i) for i in page.items], next_cursor=page.next_cursor)


@router.get("/{incident_id}", response_model=IncidentDetailOut)
def get_incident(incident_id: str, cases: CasesDep, principal: PrincipalDep):
    """One incident with the data the element saw (role `processagare`); the read is logged against the case."""
    return IncidentService(cases).get(principal, incident_id)


@router.post("/{incident_id}/data", response_model=IncidentDetailOut)
def correct_data(incident_id: str, body: CorrectionIn, cases: CasesDep, principal: PrincipalDep):
    """Correct the data the failed element will run on (role `processagare`): an audited change, shown in the
    case history as `data_corrected` with who changed what. Nothing runs until you retry."""
    return IncidentService(cases).correct(principal, incident_id, body.set, body.remove)


@router.post("/{incident_id}/retry", response_model=IncidentDetailOut)
def retry(incident_id: str, cases: CasesDep, principal: PrincipalDep):
    """Run the failed step again (role `processagare`): the incident is `resolved` if the case moves on, or stays
    `open` with the new error and one more attempt."""
    return IncidentService(cases).retry(principal, incident_id)
