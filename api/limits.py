"""Request limits, checked before any route runs: no personnummer in the URL, body size, JSON depth.

A URL holding a personnummer is refused with 422, and blanked in the request before anything
(the server's access log included) records it. A body over the size limit is refused with 413
whether or not it declares its length; a JSON body nested deeper than the depth limit is
refused with 422 before it reaches a parser that would recurse into it. All answer with a
problem document and store nothing.
"""
from __future__ import annotations

import json
import re
from datetime import date
from itertools import accumulate
from urllib.parse import unquote, unquote_plus

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.access import personnummer
from engine.core.walk import strings

from .problems import problem

MAX_DEPTH = 64
BLANKED = "/personnummer-blanked"  # what is left of a URL that held a personnummer
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _STEP)


def json_depth(body: bytes) -> int:
    """How deep a JSON text nests arrays and objects (0 for a scalar); strings do not count."""
    brackets = _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(_STEP[b] for b in brackets), default=0)


# The server's own ids (uuid4, canonical form) are taken out of a path before it is scanned: about one
# random id in 40,000 holds digits that read as a valid personnummer ("4a190522-7987-...").
_SERVER_ID = re.compile(r"(?<![0-9a-f-])[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}(?![0-9a-f-])")


_NOT_JSON_NUMBERS = re.compile(rb"(?<![A-Za-z0-9_])-?(?:NaN|Infinity)(?![A-Za-z0-9_])")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def not_storable(body: bytes) -> tuple[str, str] | None:
    """(location, rule) of a value JSON allows Python to read but no database or answer can hold: NaN and
    Infinity (not JSON numbers), a lone UTF-16 surrogate escape (not a character); None if there is none."""
    if _NOT_JSON_NUMBERS.search(_STRINGS.sub(b'""', body)):
        return "/body", "NaN and Infinity are not JSON numbers"
    if not _SURROGATE_ESCAPE.search(body):  # the common case: no need to parse the body here
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None  # malformed: the route's own parser answers with the position
    for where, value in strings(data, "/body"):
        if any("\ud800" <= c <= "\udfff" for c in value):
            return where, "a lone UTF-16 surrogate is not a character"
    return None


def _holds_personnummer(scope: Scope) -> bool:
    app = scope.get("app")
    today = app.state.clock.now().date() if app is not None else date.today()
    url = unquote(scope["path"]) + "?" + unquote_plus(scope["query_string"].decode("latin-1"))
    return personnummer.find(_SERVER_ID.sub("", url), today)


class RequestLimits:
    """ASGI middleware: refuse oversized bodies (413) and too deeply nested JSON (422)."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int = MAX_DEPTH):
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if _holds_personnummer(scope):
            scope["path"], scope["raw_path"] = BLANKED, BLANKED.encode()
            scope["query_string"] = b""
            return await _refuse(scope, receive, send, 422, "Invalid input", "a personnummer must never be sent in a "
                                 "URL (it would be logged); send it in the request body",
                                 [{"location": "/url", "message": "holds a personnummer"}])
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await _refuse(scope, receive, send, 413, "Payload too large",
                                 f"the request body is larger than {self.max_bytes} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await _refuse(scope, receive, send, 413, "Payload too large",
                                     f"the request body is larger than {self.max_bytes} bytes")
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        # Media types are case-insensitive: application/JSON is JSON too.
        if headers.get(b"content-type", b"").split(b";")[0].strip().lower().endswith(b"json"):
            if json_depth(body) > self.max_depth:
                return await _refuse(scope, receive, send, 422, "Invalid input", "the JSON body is nested too deeply",
                                     [{"location": "/body", "message": f"nested deeper than {self.max_depth} levels"}])
            if (why := not_storable(body)) is not None:
                return await _refuse(scope, receive, send, 422, "Invalid input", "the JSON body holds values "
                                     "that cannot be stored or sent back", [{"location": why[0], "message": why[1]}])
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str,
                  errors: list | None = None) -> None:
    """Answer with a problem document and close: the rest of the body is never read."""
    response = problem(Request(scope), status, title, detail, errors, headers={"connection": "close"})
    await response(scope, receive, send)
