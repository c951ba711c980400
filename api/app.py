"""The FastAPI application factory."""
from __future__ import annotations

import threading
from collections import Counter
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import start_http_server

from engine.access.sealing import sealer_for
from engine.bpmn.budget import Budget
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework.retention import Culler
from engine.casework.worker import Worker
from engine.core.clock import Clock, SystemClock
from engine.core.db import make_engine, make_session_factory
from engine.core.settings import Settings, get_settings
from engine.integration.webhooks import Deliverer

from . import problems
from .feed_watch import FeedWatch
from .limits import RequestLimits
from .request_log import RequestLog
from .routes import (absence, access_log, api_keys, cases, documents, engine_rest, events, health, messages,
                     process_definitions, tasks, timers, webhooks)
from .schemas import Problem

_PROBLEMS = {status: {"model": Problem, "content": {"application/problem+json": {}}}
             for status in (401, 403, 404, 409, 422)}


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """With the embedded default, one timer worker runs in the server so `make run` needs nothing else."""
    settings, stop, thread = app.state.settings, threading.Event(), None
    if settings.runs_embedded_worker():
        state = app.state
        worker = Worker(state.session_factory, state.clock, state.runner, state.specs,
                        batch_size=settings.worker_batch_size, poll_seconds=settings.worker_poll_seconds,
                        deliverer=Deliverer(state.session_factory, state.clock, sealer_for(settings),
                                            settings.webhook_allow_private,
                                              timeout=settings.webhook_timeout_seconds),
                        culler=Culler(state.session_factory, state.clock, settings.retention_days))
        thread = threading.Thread(target=worker.run, args=(stop,), name="samverka-worker", daemon=True)
        thread.start()
        if settings.worker_metrics_port:
            start_http_server(settings.worker_metrics_port, addr="127.0.0.1")
    yield
    stop.set()
    if thread is not None:
        thread.join(30)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the app on `settings` (default: SAMVERKA_* environment) and `clock` (default: system time)."""
    settings = settings or get_settings()
    app = FastAPI(title="samverka", version="0.1.0",
                  description="Cross-agency case processes (Västbas, HLT, skolfrånvaro) as BPMN on SpiffWorkflow.",
                  responses=_PROBLEMS, lifespan=_lifespan)
    engine = make_engine(settings.resolved_database_url())
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.db = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.runner = Runner(app.state.clock, budget=Budget.from_settings(settings))
    app.state.specs = SpecCache()
    app.state.feed_waits = Counter()  # open long-polls per client (api.routes.events)
    app.state.feed_watch = FeedWatch(app.state.session_factory)
    problems.install(app)
    app.add_middleware(RequestLimits, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestLog)  # outermost: it sees the path as RequestLimits left it
    for module in (health, process_definitions, cases, access_log, tasks, timers, documents, webhooks, events,
                   messages, absence, api_keys, engine_rest):
        app.include_router(module.router)
    return app
