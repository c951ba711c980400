"""Structured logging: JSON lines for the worker and server, readable lines in a terminal."""
from __future__ import annotations

import logging
import sys

import structlog


def configure(json: bool = True, level: int = logging.INFO, cache: bool = True) -> None:
    """Log as JSON lines on stdout (or coloured console lines when `json` is false) from `level` up.

    `cache` binds each logger to this configuration on first use (fast; off where it will change)."""
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), renderer],
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=cache,
    )
