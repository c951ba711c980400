"""Request dependencies: the transaction owner, the caller, and the services."""
from __future__ import annotations

from typing import Annotated, AsyncIterator, get_args, get_origin

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from engine.access import audit, directory
from engine.access.apikeys import ApiKeyService, looks_like_key
from engine.access.children import ChildRegistry
from engine.access.identity import Principal, verify_token
from engine.casework.cases import CaseService
from engine.casework.scoring import ScoringSettings
from engine.casework.tasks import TaskService
from engine.core.errors import FieldError, InvalidInput, Refused

from .problems import Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="A token from the identity provider or `samverka token`, "
                                                    "or an integration client's API key (svk_...)")


def _query_names(dependant) -> tuple[set[str], set[str]]:
    """The query parameters of an operation (its dependencies' included), and those that take a list."""
    names, lists, stack = set(), set(), [dependant]
    while stack:
        current = stack.pop()
        for param in current.query_params:
            names.add(param.alias)
            kinds = {get_origin(a) or a for a in (get_args(param.field_info.annotation) or
                                                   (param.field_info.annotation,))}
            if kinds & {list, set, tuple, frozenset}:
                lists.add(param.alias)
        stack.extend(current.dependencies)
    return names, lists


async def known_query(request: Request) -> None:  # async: no I/O, so no hop to a worker thread
    """422 for a query parameter the operation does not have, or one of one value given twice: a misspelt
    filter (`?proces_key=`) would otherwise be ignored and answer as if no filter was given."""
    route = request.scope.get("route")
    if route is None or not getattr(route, "include_in_schema", False) or not request.query_params:
        return
    known, lists = _query_names(route.dependant)
    given = [name for name, _ in request.query_params.multi_items()]
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidInput("unknown query parameters", [
            FieldError(f"/query/{name[:100]}", f"not a parameter of this operation; it has: "
                                               f"{', '.join(sorted(known)) or 'none'}") for name in unknown[:20]])
    repeated = sorted({name for name in given if given.count(name) > 1} - lists)
    if repeated:  # one value would silently win over the others
        raise InvalidInput("query parameters given more than once",
                           [FieldError(f"/query/{name[:100]}", "takes one value") for name in repeated[:20]])


async def _session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: commit on success, roll back on any error.

    Async, with the ending in one worker-thread call: a plain generator would cost two thread hops per request
    (FastAPI runs its enter and its exit in the thread pool), and opening a session does no I/O. The request
    holds one of the process's slots (api.admission) from before the session opens until it has ended."""
    async with request.app.state.admission.slot(request.scope):
        session = request.app.state.session_factory()
        try:
            yield session
        except BaseException:
            with anyio.CancelScope(shield=True):  # the session is ended even if the request is being cancelled
                await run_in_threadpool(_end, session, False)
            raise
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_end, session, True)


def _end(session: Session, ok: bool) -> None:
    """Commit (`ok`) or roll back; refused attempts stay in the access log whatever the outcome."""
    try:
        if ok:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        try:
            audit.write_refused(session)
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
            principal = ApiKeyService(session, state.clock).authenticate(credentials.credentials)
        else:
            # The one place every request's caller is resolved: deactivated or re-roled people change at the next
            # request.
            principal = directory.effective(session, verify_token(state.settings, state.clock,
                                                                  credentials.credentials, state.verified_tokens),
                                             state.clock)
            if session.info.pop(directory.CHANGED, False):
                session.commit()  # who signed in is remembered even if the request is then refused
    except Refused as exc:
        raise Unauthenticated(exc.detail) from None
    state.rate_limit.hit(principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


async def _cases(request: Request, session: SessionDep) -> CaseService:  # no I/O: no thread hop
    state = request.app.state
    return CaseService(session, state.clock, state.runner, state.specs,
                       ChildRegistry(session, state.clock, state.settings), state.settings.forms_dir,
                       state.settings.unit_areas, state.settings.default_unit)


CasesDep = Annotated[CaseService, Depends(_cases)]


async def _tasks(request: Request, cases: CasesDep) -> TaskService:
    settings = request.app.state.settings
    return TaskService(cases, settings.forms_dir, ScoringSettings(sdq_cutoffs=settings.sdq_cutoffs))


TasksDep = Annotated[TaskService, Depends(_tasks)]
