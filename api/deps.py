"""Request dependencies: the transaction owner, the caller, and the services.

Where a request's work runs. Thread hand-overs cost CPU (thread switches, interpreter-lock transfers): taking the
two around the route out (the caller's directory read, a commit with nothing left to write) saved 2-7 % of a
completion's CPU, running the route on the loop a further 6-15 % (issue 19). But on the event loop, a statement
that waits on a lock stops every request of the process, and a wait could be on a request whose own commit needs
the loop. So:
- a route that takes `StepDep` (a task's completion, task lists, a case) runs its work on the loop on PostgreSQL,
  over connections whose statements give up after `step_lock_wait_ms` waiting on a lock; one that gives up is
  rolled back and its work run again from the top in a worker thread, where it waits as long as it must;
- every other route is a plain `def`, run in a worker thread, so a wait holds only its thread;
- what surrounds the route runs on the loop when it only reads or commits; a write (a first sign-in remembered,
  refused attempts for the access log, a flush still pending) goes to a thread.
"""
from __future__ import annotations

from typing import Annotated, AsyncIterator, get_args, get_origin

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from engine.access import audit, directory
from engine.access.apikeys import ApiKeyService, looks_like_key
from engine.access.children import ChildRegistry
from engine.access.identity import Principal, verify_token
from engine.casework.cases import CaseService
from engine.casework.scoring import ScoringSettings
from engine.casework.tasks import TaskService
from engine.core.db import waited_on_lock
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
        state = request.app.state
        on_loop = state.loop_sessions is not None and _takes_step(request.scope.get("route"))
        session = state.loop_sessions() if on_loop else state.session_factory()
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
            _to_threads(state, session)
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


class Step:
    """Runs a route's work: on the event loop over a loop session, else (or after a lock wait) in a worker thread."""

    def __init__(self, state, session: Session):
        self.state, self.session = state, session

    async def __call__(self, work, *args, **kwargs):
        """`work(*args, **kwargs)`'s result; its writes are flushed before it returns, so the commit waits on
        nothing (and runs on the loop)."""
        if _on_loop(self.state, self.session):
            try:
                result = work(*args, **kwargs)
                self.session.flush()
                return result
            except DBAPIError as exc:
                if not waited_on_lock(exc):
                    raise
                _to_threads(self.state, self.session)  # another transaction holds a row: wait for it in a thread
        return await run_in_threadpool(work, *args, **kwargs)


def _to_threads(state, session: Session) -> None:
    """Move a loop session's request to the ordinary pool, starting over: what it read or wrote is rolled back."""
    if _on_loop(state, session):
        session.rollback()
        session.close()
        session.info.clear()  # per-transaction notes (roles read, subscriptions, refused attempts) are made again
        session.bind = state.db


def _on_loop(state, session: Session) -> bool:
    return session.bind is not state.db


async def _step(request: Request, session: SessionDep) -> Step:
    return Step(request.app.state, session)


StepDep = Annotated[Step, Depends(_step)]


def _takes_step(route) -> bool:
    """Whether the route's dependencies include `StepDep` (so its work may run on the loop); found once per route
    and kept on it."""
    if route is None or not hasattr(route, "dependant"):
        return False
    found = getattr(route, "_samverka_takes_step", None)
    if found is None:
        stack, found = [route.dependant], False
        while stack and not found:
            current = stack.pop()
            found = current.call is _step
            stack.extend(current.dependencies)
        route._samverka_takes_step = found
    return found
