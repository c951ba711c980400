"""API keys for integration clients (role `systemforvaltare`)."""
from __future__ import annotations

from fastapi import APIRouter, Request

from engine.access.apikeys import ApiKeyService

from ..access_schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut
from ..deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/api-keys", tags=["api keys"])


def _service(request: Request, session) -> ApiKeyService:
    return ApiKeyService(session, request.app.state.clock, request.app.state.settings.api_key_max_days)


@router.post("", response_model=ApiKeyCreated, status_code=201)
def create_api_key(body: ApiKeyIn, request: Request, session: SessionDep, principal: PrincipalDep):
    """Issue a key for an integration client with scopes (events, webhooks, messages:PROCESS, absence:SCHOOL).

    The key is in this response only; samverka keeps just a hash of it."""
    days = body.expires_in_days if "expires_in_days" in body.model_fields_set else None  # None: the default
    row, key = _service(request, session).create(principal, body.name, body.agency, body.scopes, days)
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=key)


@router.get("", response_model=list[ApiKeyOut])
def list_api_keys(request: Request, session: SessionDep, principal: PrincipalDep):
    """Every key, revoked and expired ones included, without their secrets."""
    return _service(request, session).list(principal)


@router.post("/{key_id}/revoke", response_model=ApiKeyOut)
def revoke_api_key(key_id: str, request: Request, session: SessionDep, principal: PrincipalDep):
    """Revoke a key; the next request with it is refused (401)."""
    return _service(request, session).revoke(principal, key_id)
