"""Structured logging: JSON lines in production, readable lines in a terminal (`make run`)."""
from __future__ import annotations

import logging
import sys

import structlog

_SHARED = [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
           structlog.processors.TimeStamper(fmt="iso", utc=True)]


def _renderer(json: bool):
    return structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())


def configure(json: bool = True, level: int = logging.INFO, cache: bool = True) -> None:
    """Log as JSON lines on stdout (or coloured console lines when `json` is false) from `level` up.

    `cache` binds each logger to this configuration on first use (fast; off where it will change)."""
    structlog.configure(
        processors=[*_SHARED, _renderer(json)],
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),  # one write per line: no gluing across threads
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=cache,
    )


def route_standard_logging(json: bool = True, level: int = logging.INFO) -> None:
    """Render the standard library's records (uvicorn's, alembic's) the same way, one line each on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _renderer(json)]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # SpiffWorkflow logs every task state change at INFO: lines nobody reads, written in the request's time
    # and naming case elements. Its warnings and errors still come through.
    logging.getLogger("spiff").setLevel(max(level, logging.WARNING))
