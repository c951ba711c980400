"""One log line per request, with a request id that every log line of the request carries.

The id is the caller's `X-Request-ID` when it is a plain token (a proxy's), else a new one; it is sent
back in the answer. The path is logged as the app left it: a path that held a personnummer has been
blanked by then (api.limits); query strings are never logged, since they may hold case data.
"""
from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
log = structlog.get_logger("samverka.request")


class RequestLog:
    """ASGI middleware: a request id in the log context and the answer, and a `request` line at the end."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _TOKEN.fullmatch(given) else uuid.uuid4().hex
        status = 500  # what the server answers if the app raises before it answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                log.info("request", method=scope["method"], path=scope["path"], status=status,
                         ms=round((time.perf_counter() - started) * 1000, 1))
