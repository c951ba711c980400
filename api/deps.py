"""Request dependencies: the transaction owner, the caller, and the services."""
from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from engine.access import audit, directory
from engine.access.apikeys import ApiKeyService, looks_like_key
from engine.access.children import ChildRegistry
from engine.access.identity import Principal, verify_token
from engine.casework.cases import CaseService
from engine.casework.scoring import ScoringSettings
from engine.casework.tasks import TaskService
from engine.core.errors import Refused

from .problems import Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="A token from the identity provider or `samverka token`, "
                                                    "or an integration client's API key (svk_...)")


def _session(request: Request) -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on any error."""
    session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        try:
            audit.write_refused(session)  # refused attempts stay in the access log, whatever the outcome
        finally:
            session.close()


# scope="function": the commit runs before the response is sent, so a failed commit is never a 2xx.
SessionDep = Annotated[Session, Depends(_session, scope="function")]


def _principal(request: Request, session: SessionDep,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """The caller, from a local or OIDC bearer token or an API key, as the directory knows them."""
    if credentials is None:
        raise Unauthenticated("a Bearer token or API key is required")
    state = request.app.state
    try:
        if looks_like_key(credentials.credentials):
            return ApiKeyService(session, state.clock).authenticate(credentials.credentials)
        # The one place every request's caller is resolved: deactivated or re-roled people change at the next request.
        principal = directory.effective(session, verify_token(state.settings, state.clock, credentials.credentials),
                                        state.clock)
        if session.info.pop(directory.CHANGED, False):
            session.commit()  # who signed in is remembered even if the request is then refused
        return principal
    except Refused as exc:
        raise Unauthenticated(exc.detail) from None


PrincipalDep = Annotated[Principal, Depends(_principal)]


def _cases(request: Request, session: SessionDep) -> CaseService:
    state = request.app.state
    return CaseService(session, state.clock, state.runner, state.specs,
                       ChildRegistry(session, state.clock, state.settings), state.settings.forms_dir,
                       state.settings.unit_areas, state.settings.default_unit)


CasesDep = Annotated[CaseService, Depends(_cases)]


def _tasks(request: Request, cases: CasesDep) -> TaskService:
    settings = request.app.state.settings
    return TaskService(cases, settings.forms_dir, ScoringSettings(sdq_cutoffs=settings.sdq_cutoffs))


TasksDep = Annotated[TaskService, Depends(_tasks)]
