"""SCIM 2.0 provisioning (RFC 7644) under /scim/v2: Users, Groups and the discovery endpoints.

scim2-server serves the protocol; engine.access.scim_storage keeps the resources and the directory in step.
The caller is an API key with the scope `scim` (the identity provider's provisioning client), which never
sees case data. Every answer, errors included, is SCIM (application/scim+json, RFC 7644 §3.12). Left out of
the OpenAPI document: SCIM clients read /scim/v2/Schemas and /ResourceTypes instead.
"""
from __future__ import annotations

import json
from functools import cache

from fastapi import APIRouter, Depends, Request, Response
from scim2_models import SCIMException
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.service import ScimService

from engine.access import scim_storage
from engine.access.scim_schema import provider
from engine.access.scim_storage import DirectoryStorage

from ..deps import PrincipalDep, SessionDep
from ..problems import ScimAnswer

PREFIX = "/scim/v2"
router = APIRouter(prefix=PREFIX, tags=["scim"], include_in_schema=False)


@cache
def _service() -> ScimService:
    return ScimService(provider())


async def _body(request: Request) -> bytes:
    return await request.body()


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def scim(path: str, request: Request, session: SessionDep, principal: PrincipalDep,
         body: bytes = Depends(_body)) -> Response:
    """Any SCIM request; a SCIM error is raised (not returned) so the request's transaction is rolled back."""
    scim_storage.require_provisioner(principal)
    state, service = request.app.state, _service()
    storage = DirectoryStorage(session, state.clock, principal, service.provider, scim_storage.issuer(state.settings))
    scim_request = ScimRequest(method=request.method, base_url=str(request.base_url).rstrip("/") + PREFIX,
                               path="/" + path.removesuffix(".scim"), query=dict(request.query_params),
                               headers=list(request.headers.items()), body=body, subject=principal)
    try:
        answer = ScimHandler(service, storage).handle(scim_request)
    except SCIMException as exc:
        answer = service.error_response(exc)
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-type"}
    if answer.status >= 400:
        raise ScimAnswer(int(answer.status), answer.body or {}, headers)
    content = b"" if answer.body is None else json.dumps(answer.body).encode()
    return Response(content, status_code=int(answer.status), headers=headers,
                    media_type="application/scim+json" if answer.body is not None else None)
