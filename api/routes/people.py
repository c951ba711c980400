"""Who the caller is to samverka: their entry in the directory of people."""
from __future__ import annotations

from fastapi import APIRouter

from engine.access import directory

from ..access_schemas import MeOut
from ..deps import PrincipalDep, SessionDep

router = APIRouter(tags=["people"])


@router.get("/me", response_model=MeOut)
def me(principal: PrincipalDep, session: SessionDep):
    """You as the directory knows you: your person id (what a form may name you by), issuer and subject, agency,
    units and roles (for a SCIM-provisioned person, the directory's, whatever the token says)."""
    person = session.get(directory.Person, principal.person_id) if principal.person_id else None
    return MeOut(person_id=principal.person_id, issuer=principal.key[0], subject=principal.key[1],
                 user=principal.user, agency=principal.agency, units=sorted(principal.units),
                 roles=sorted(principal.roles), managed_by=person.managed_by if person else None)
