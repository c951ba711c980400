"""Errors the engine does not raise itself (the database's, and bugs) become RFC 9457 problems too: a conflict
is a 409 to retry, a value the database cannot hold a 422, anything else a 500 that leaks nothing."""
from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError

from api import problems

SECRET = "stack-detail-7f3a"  # what a 500 must not show

RAISES = {
    "integrity": IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
    "locked": OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked")),
    "disk": OperationalError("UPDATE", {}, sqlite3.OperationalError(f"disk I/O error {SECRET}")),
    "nul": StatementError("bad value", "INSERT", {}, ValueError("A string literal cannot contain NUL")),
    "statement": StatementError(f"odd {SECRET}", "INSERT", {}, KeyError(SECRET)),
    "bug": RuntimeError(SECRET),
}


@pytest.fixture(scope="module")
def base_url():
    app = FastAPI()
    problems.install(app)

    @app.get("/raise/{what}")
    def raise_it(what: str):
        raise RAISES[what]

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.01)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("what, status, slug", [
    ("integrity", 409, "conflict"), ("locked", 409, "conflict"), ("disk", 500, "internal-error"),
    ("nul", 422, "invalid-input"), ("statement", 500, "internal-error"), ("bug", 500, "internal-error")])
def test_database_errors_and_bugs_are_problems(base_url, what, status, slug):
    response = httpx.get(f"{base_url}/raise/{what}")
    assert response.status_code == status and response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"urn:samverka:problem:{slug}" and body["instance"] == f"/raise/{what}"
    assert SECRET not in response.text, "a 500 says nothing of what went wrong inside"
