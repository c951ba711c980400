"""Request dependencies: the transaction owner, the caller, and the services.

Where a request's work runs. A route is a plain `def`, run in a worker thread, so a step that waits (on a row
lock, on SQLite's writer) holds only its own thread. What surrounds it runs on the event loop when it cannot wait
on another transaction: the caller's directory read (a token's signature is cached) and the commit or rollback of
a transaction that has nothing left to write. So a completion hands over to a thread once, not three times
(FastAPI runs each `def` dependency in a thread of its own); the two extra hand-overs cost 2-7 % of its CPU in
thread switches and interpreter-lock transfers (issue 19). Running the route itself on the loop saved more
(15-20 %), but then one request waiting on a row lock stops every request of its process. Anything that writes (a
first sign-in remembered, a pending flush, refused attempts for the access log) goes to a thread: on the loop it
could wait on a lock held by a request whose own commit needs the loop.
"""
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

    Async, so opening it and (mostly) ending it cost no thread hop (see the module's docstring). The request holds
    one of the process's slots (api.admission) from before the session opens until it has ended."""
    async with request.app.state.admission.slot(request.scope):
        session = request.app.state.session_factory()
        try:
            yield session
        except BaseException:
            await _ended(session, False)
            raise
        await _ended(session, True)


async def _ended(session: Session, ok: bool) -> None:
    """`_end` on the loop if it only commits or rolls back what is written, else in a worker thread."""
    if audit.has_refused(session) or (ok and (session.new or session.dirty or session.deleted)):
        with anyio.CancelScope(shield=True):  # the session is ended even if the request is being cancelled
            await run_in_threadpool(_end, session, ok)
    else:
        _end(session, ok)  # a round trip that waits on no other transaction


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


async def _principal(request: Request, session: SessionDep,
                     credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """The caller, from a local or OIDC bearer token or an API key, as the directory knows them."""
    if credentials is None:
        raise Unauthenticated("a Bearer token or API key is required")
    state, token = request.app.state, credentials.credentials
    try:
        # On the loop when it is a read: an API key, or a token whose signature is cached (a check may fetch the
        # provider's keys) of someone the directory already knows as they are (see the module's docstring).
        principal = None
        if looks_like_key(token):
            principal = ApiKeyService(session, state.clock).authenticate(token)
        elif state.verified_tokens.holds(token):
            principal = directory.effective(session, _verified(state, token), state.clock, may_write=False)
        if principal is None:
            principal = await run_in_threadpool(_signed_in, state, session, token)
    except Refused as exc:
        raise Unauthenticated(exc.detail) from None
    state.rate_limit.hit(principal)
    return principal


def _verified(state, token: str) -> Principal:
    """The principal the token names, its signature checked once per few minutes (state.verified_tokens)."""
    return verify_token(state.settings, state.clock, token, state.verified_tokens)


def _signed_in(state, session: Session, token: str) -> Principal:
    """The caller a token names, as the directory knows them, in a worker thread: a first sign-in or changed claims
    are remembered, and committed even if the request is then refused. Deactivated or re-roled people change at
    their next request, on either path."""
    principal = directory.effective(session, _verified(state, token), state.clock)
    if session.info.pop(directory.CHANGED, False):
        session.commit()
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
