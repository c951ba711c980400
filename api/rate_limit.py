"""Requests per principal, counted with `limits` (a maintained library) and refused with 429 and Retry-After.

The counts live in the storage SAMVERKA_RATE_LIMIT_STORAGE names: `memory://` (the default) counts per
server process, so N processes let a principal make up to N times the limit; a shared storage such as
`redis://HOST` counts across them.
"""
from __future__ import annotations

import math
import time

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from engine.access.identity import Principal
from engine.core.errors import TooMany
from engine.core.settings import Settings


class RateLimit:
    """The configured limits (e.g. "600/minute;10000/hour"), each counted per principal."""

    def __init__(self, settings: Settings):
        try:
            self.items = parse_many(settings.rate_limit) if settings.rate_limit.strip() else []
        except ValueError as exc:
            raise ValueError(f"SAMVERKA_RATE_LIMIT {settings.rate_limit!r} is not a rate limit such as "
                             f"'600/minute;10000/hour': {exc}") from None
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))

    def hit(self, principal: Principal) -> None:
        """Count one request of `principal`; TooMany (429) with the seconds until it may try again."""
        key = f"{principal.client}|{principal.user}"
        for item in self.items:
            if not self.limiter.hit(item, key):
                reset = self.limiter.get_window_stats(item, key).reset_time
                exc = TooMany(f"more than {item} requests by {principal.user}; slow down")
                exc.retry_after = max(1, math.ceil(reset - time.time()))
                raise exc
