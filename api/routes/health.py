"""Liveness and readiness."""
from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request):
    """200 when the service runs and its database answers; no token needed."""
    with request.app.state.session_factory() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}
