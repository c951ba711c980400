"""The access log, for the registrar (role `registrator`): per case, and the extract for one child."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..access_schemas import AccessLogExtractIn, AccessLogOut
from ..deps import CasesDep, PrincipalDep
from ..schemas import Page

router = APIRouter(tags=["access log"])


def _page(page) -> Page[AccessLogOut]:
    return Page[AccessLogOut](items=[AccessLogOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/cases/{case_id}/access-log", response_model=Page[AccessLogOut])
def access_log(case_id: str, cases: CasesDep, principal: PrincipalDep, cursor: str | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 200):
    """Every read and write of the case's data, and every refused attempt: who, agency, roles, client,
    what and when. Reading it is logged too."""
    return _page(cases.access_log(principal, case_id, cursor, limit))


@router.post("/access-log/extract", response_model=Page[AccessLogOut])
def access_log_extract(body: AccessLogExtractIn, cases: CasesDep, principal: PrincipalDep):
    """Who has accessed a child's data, over all the child's cases (the extract a person may ask for).

    The personnummer goes in the body, never the URL. Cases already culled are no longer linked to it."""
    return _page(cases.access_log_extract(principal, body.personnummer, body.cursor, body.limit))
