"""RFC 9457 problem responses: the one place errors become HTTP."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.core.errors import Conflict, EngineError, InvalidInput, InvalidTransition, NotFound, Refused, TooMany

log = logging.getLogger("samverka.api")
MEDIA_TYPE = "application/problem+json"

_STATUS = {NotFound: 404, Conflict: 409, InvalidTransition: 409, Refused: 403, InvalidInput: 422, TooMany: 429}
_SLUG = {400: "bad-request", 404: "not-found", 409: "conflict", 403: "forbidden", 422: "invalid-input", 401: "unauthorized",
         413: "payload-too-large", 405: "method-not-allowed", 429: "too-many-requests", 500: "internal-error"}


SCIM_PREFIX, SCIM_MEDIA_TYPE = "/scim/v2", "application/scim+json"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimAnswer(Exception):
    """A SCIM error response (RFC 7644 §3.12), raised so that the request's transaction is rolled back."""

    def __init__(self, status: int, body: dict, headers: dict):
        self.status, self.body, self.headers = status, body, headers


class Unauthenticated(Exception):
    """No or bad credentials: 401 with a Bearer challenge."""

    def __init__(self, detail: str):
        self.detail = detail


def problem(request: Request, status: int, title: str, detail: str, errors: list | None = None,
            headers: dict | None = None) -> JSONResponse:
    if request.url.path.startswith(SCIM_PREFIX + "/") or request.url.path == SCIM_PREFIX:
        return JSONResponse({"schemas": [SCIM_ERROR], "status": str(status), "detail": detail}, status_code=status,
                            media_type=SCIM_MEDIA_TYPE, headers=headers)  # SCIM clients read SCIM errors only
    body = {"type": f"urn:samverka:problem:{_SLUG.get(status, 'error')}", "title": title, "status": status,
            "detail": detail, "instance": request.url.path}
    if errors:
        body["errors"] = errors
    if request.url.path.startswith("/engine-rest/"):
        body.update(_camunda_message(detail, errors or []))
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _camunda_message(detail: str, errors: list[dict]) -> dict:
    """What Camunda clients read from an error (the Modeler logs `message`): every problem, one per line."""
    lines = [detail] + [" ".join(str(x) for x in (":".join(str(p) for p in (e.get("file"), e.get("line")) if p),
                                                  e.get("element"), e.get("message")) if x) for e in errors]
    details = {}
    for e in errors:
        if e.get("file"):
            details.setdefault(e["file"], {"errors": [], "warnings": []})["errors"].append(
                {"message": e.get("message"), "line": e.get("line"), "column": None,
                 "mainElementId": e.get("element"), "elementIds": [e["element"]] if e.get("element") else []})
    return {"message": "\n".join(lines), **({"details": details} if details else {})}


def _validation_errors(exc: RequestValidationError) -> list[dict]:
    return [{"location": "/" + "/".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "invalid")}
            for err in exc.errors()]


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into problem responses."""

    @app.exception_handler(EngineError)
    async def engine_error(request: Request, exc: EngineError):
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooMany) else None
        return problem(request, status, exc.title, exc.detail, [e.as_dict() for e in exc.errors], headers=headers)

    @app.exception_handler(ScimAnswer)
    async def scim_answer(request: Request, exc: ScimAnswer):
        return JSONResponse(exc.body, status_code=exc.status, media_type=SCIM_MEDIA_TYPE, headers=exc.headers)

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated):
        return problem(request, 401, "Unauthorized", exc.detail, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return problem(request, 422, "Invalid input", "the request does not match the API", _validation_errors(exc))

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, exc: StaleDataError):
        what = "resource" if request.url.path.startswith(SCIM_PREFIX) else "case"
        return problem(request, 409, "Conflict", f"the {what} was changed by someone else at the same time; reload and retry")

    @app.exception_handler(IntegrityError)
    async def integrity(request: Request, exc: IntegrityError):
        return problem(request, 409, "Conflict", "a concurrent change created the same thing; retry")

    @app.exception_handler(OperationalError)
    async def operational(request: Request, exc: OperationalError):
        if "locked" in str(exc.orig).lower() or "deadlock" in str(exc.orig).lower():
            return problem(request, 409, "Conflict", "the database was busy with a concurrent change; retry")
        log.exception("database error")
        return problem(request, 500, "Internal error", "the request could not be completed")

    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: DataError):
        return problem(request, 422, "Invalid input", "a value is out of range for what can be stored "
                                                      "(a number too large, or a NUL character)")

    @app.exception_handler(StatementError)
    async def unadaptable(request: Request, exc: StatementError):
        if isinstance(exc.orig, (ValueError, OverflowError)):  # the driver refused a value (e.g. NUL in text)
            return problem(request, 422, "Invalid input", "a value cannot be stored: " + str(exc.orig)[:200])
        log.exception("database error")
        return problem(request, 500, "Internal error", "the request could not be completed")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return problem(request, exc.status_code, str(exc.detail), str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error")
        return problem(request, 500, "Internal error", "the request could not be completed")
