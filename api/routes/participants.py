"""Who is in a case: its participants, and handing a seat over to another person."""
from __future__ import annotations

from fastapi import APIRouter, Response

from engine.casework.seats import Seats

from ..access_schemas import AppointmentIn, HandoverIn, ParticipantIn, ParticipantOut
from ..deps import CasesDep, PrincipalDep

router = APIRouter(prefix="/cases", tags=["cases"])


@router.get("/{case_id}/participants", response_model=list[ParticipantOut])
def list_participants(case_id: str, cases: CasesDep, principal: PrincipalDep):
    """Who takes part in the case, in which role (seat) and for which agency."""
    return cases.participants(principal, case_id)


@router.post("/{case_id}/participants", response_model=ParticipantOut, status_code=201)
def add_participant(case_id: str, body: ParticipantIn, cases: CasesDep, principal: PrincipalDep):
    """Give a person of the directory (by `person_id`, or `user` with `agency`) a role in the case, if your role
    may add participants (the model says); they must hold the role in the directory, and an appointed seat is
    not added to (hand it over). They may then read the case and act in that role."""
    return Seats(cases).add_participant(principal, case_id, body.role, body.person_id, body.user, body.agency)


@router.delete("/{case_id}/participants/{participant_id}", status_code=204, response_class=Response)
def remove_participant(case_id: str, participant_id: int, cases: CasesDep, principal: PrincipalDep):
    """Take a role in the case from yourself or from someone you added; their access ends at once."""
    Seats(cases).remove_participant(principal, case_id, participant_id)
    return Response(status_code=204)


@router.post("/{case_id}/seats/{role}/handover", response_model=list[ParticipantOut])
def hand_over(case_id: str, role: str, body: HandoverIn, cases: CasesDep, principal: PrincipalDep):
    """Hand the seat `role` from one holder (`participant_id`) to a person of the directory, if the model lets
    your role hand that seat over (`handed_over_by`); recorded in the case history. Answers the participants."""
    Seats(cases).hand_over(principal, case_id, role, body.participant_id, body.person_id, body.user, body.agency)
    return cases.access.participants(case_id)


@router.post("/{case_id}/seats/{role}/appointments", response_model=list[ParticipantOut])
def appoint(case_id: str, role: str, body: AppointmentIn, cases: CasesDep, principal: PrincipalDep):
    """Appoint a person of the directory (by `person_id`, or `user` with `agency`) to the appointed seat `role`,
    if the model lets your role appoint it directly (`appointed_by = ROLE@unit`: the rektor of the case's unit
    appoints the kontaktperson). They hold the seat from now on and earlier appointees step down; a rule of the
    seat they break (a rektor as kontaktperson) is a 422 naming it. Recorded in the case history. Answers the
    participants."""
    Seats(cases).appoint_directly(principal, case_id, role, body.person_id, body.user, body.agency)
    return cases.access.participants(case_id)
