"""The FastAPI application factory."""
from __future__ import annotations

from fastapi import FastAPI

from engine.clock import Clock, SystemClock
from engine.db import make_engine, make_session_factory
from engine.runtime import Runner
from engine.settings import Settings, get_settings
from engine.specs import SpecCache

from . import problems
from .routes import cases, health, process_definitions, tasks
from .schemas import Problem

_PROBLEMS = {status: {"model": Problem, "content": {"application/problem+json": {}}}
             for status in (401, 403, 404, 409, 422)}


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the app on `settings` (default: SAMVERKA_* environment) and `clock` (default: system time)."""
    settings = settings or get_settings()
    app = FastAPI(title="samverka", version="0.1.0",
                  description="Cross-agency case processes (Västbas, HLT, skolfrånvaro) as BPMN on SpiffWorkflow.",
                  responses=_PROBLEMS)
    engine = make_engine(settings.resolved_database_url())
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.db = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.runner = Runner(app.state.clock)
    app.state.specs = SpecCache()
    problems.install(app)
    for module in (health, process_definitions, cases, tasks):
        app.include_router(module.router)
    return app
