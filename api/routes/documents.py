"""Printable documents of a case (SIP, handlingsplan, kallelse) as HTML."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from engine.casework import documents

from ..deps import CasesDep, PrincipalDep

router = APIRouter(tags=["documents"])


@router.get("/cases/{case_id}/documents/{name}", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}}, "description": "The document, ready to print"}})
def case_document(case_id: str, name: str, request: Request, cases: CasesDep, principal: PrincipalDep):
    """A printable document rendered from the case's data: `sip`, `handlingsplan` or `kallelse`.

    404 for an unknown document, 409 while the case has not recorded what the document prints."""
    settings, clock = request.app.state.settings, request.app.state.clock
    documents.require_known(name)  # an unknown name is not worth a read
    view = cases.view(principal, case_id, f"document {name}")
    templates = documents.templates_of(cases.version_of(view.case), settings.forms_dir / "templates")
    return HTMLResponse(documents.render(view.case, view.data, name, templates, clock, view.barn_personnummer))
