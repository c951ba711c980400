"""The FastAPI application factory."""
from __future__ import annotations

import threading
from collections import Counter
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from prometheus_client import start_http_server

from engine.access.identity import VerifiedTokens, token_secret
from engine.access.sealing import sealer_for
from engine.bpmn.budget import Budget
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework.retention import Culler
from engine.casework.training import check_allowed
from engine.casework.worker import Worker
from engine.core.clock import Clock, SystemClock, TrainingClock
from engine.core.db import make_engine, make_session_factory
from engine.core.settings import Settings, get_settings
from engine.integration.webhooks import Deliverer

from . import openapi, problems
from .admission import Admission
from .deps import known_query
from .feed_watch import FeedWatch
from .limits import RequestLimits
from .rate_limit import RateLimit
from .request_log import RequestLog
from .routes import (absence, access_log, api_keys, cases, documents, engine_rest, events, health, incidents,
                     messages, migrations, participants, people, process_definitions, reports, scim, tasks, timers,
                     training, webhooks)


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


def serve_app() -> FastAPI:
    """The app of one `samverka serve --workers N` process: settings from the environment, logging as they say."""
    from engine.core.logs import configure, route_standard_logging

    settings = get_settings()
    configure(json=settings.log_format == "json")
    route_standard_logging(json=settings.log_format == "json")
    return create_app(settings)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the app on `settings` (default: SAMVERKA_* environment) and `clock` (default: system time)."""
    settings = settings or get_settings()
    app = FastAPI(title="samverka", version="0.1.0",
                  description="Cross-agency case processes (Västbas, HLT, skolfrånvaro) as BPMN on SpiffWorkflow.",
                  lifespan=_lifespan, generate_unique_id_function=lambda route: route.name,
                  dependencies=[Depends(known_query)])
    engine = make_engine(settings.resolved_database_url(), pool_size=settings.db_pool_size,
                         max_overflow=settings.db_max_overflow, prepared_statements=settings.db_prepared_statements)
    check_allowed(settings)
    app.state.settings = settings
    token_secret(settings), sealer_for(settings)  # secrets read (or generated) at start, not by a first request
    app.state.clock = clock or (TrainingClock() if settings.training_clock else SystemClock())
    app.state.db = engine
    app.state.session_factory = make_session_factory(engine)
    # The event loop's own connections (api.deps.Step): a statement on them waits at most step_lock_wait_ms on a
    # lock; one per request slot, as only requests holding a slot have a session.
    app.state.loop_db = None if settings.is_sqlite() or not settings.steps_on_loop else make_engine(
        settings.resolved_database_url(), application_name="samverka-loop", pool_size=settings.request_slots,
        max_overflow=settings.request_slots, prepared_statements=settings.db_prepared_statements,
        lock_timeout_ms=settings.step_lock_wait_ms, per_transaction=settings.db_transaction_pooler)
    app.state.loop_sessions = app.state.loop_db and make_session_factory(app.state.loop_db)
    app.state.runner = Runner(app.state.clock, budget=Budget.from_settings(settings))
    app.state.specs = SpecCache()
    app.state.admission = Admission(settings.request_slots)
    app.state.verified_tokens = VerifiedTokens()
    app.state.feed_waits = Counter()  # open long-polls per client (api.routes.events)
    app.state.feed_watch = FeedWatch(app.state.session_factory)
    app.state.rate_limit = RateLimit(settings)
    problems.install(app)
    openapi.install(app)
    app.add_middleware(RequestLimits, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestLog)  # outermost: it sees the path as RequestLimits left it
    for module in (health, process_definitions, cases, participants, access_log, tasks, timers, documents, webhooks,
                   events, messages, absence, api_keys, incidents, migrations, training, engine_rest, people, scim,
                   reports):
        app.include_router(module.router)
    return app
