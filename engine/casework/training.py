"""A training deployment's clock: a process owner tries deadlines by moving time forward.

Off unless SAMVERKA_TRAINING_CLOCK is set, and refused at start in a production environment
(SAMVERKA_ENVIRONMENT=production): moving time would fire real deadlines on real cases.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from engine.access.identity import Principal
from engine.bpmn.timer_events import duration_from
from engine.casework.deployments import DEPLOYER_ROLE
from engine.core.errors import FieldError, InvalidInput, NotFound, Refused
from engine.core.settings import Settings

MAX_STEP = timedelta(days=366)  # one advance moves at most a year: a typo should not jump a decade


def check_allowed(settings: Settings) -> None:
    """ValueError when a training clock is configured for production."""
    if settings.training_clock and settings.environment == "production":
        raise ValueError("SAMVERKA_TRAINING_CLOCK cannot be set in production (SAMVERKA_ENVIRONMENT=production)")


class TrainingClockService:
    def __init__(self, settings: Settings, clock):
        self.settings, self.clock = settings, clock

    def _require(self, principal: Principal) -> None:
        if not self.settings.training_clock:
            raise NotFound("this server has no training clock (SAMVERKA_TRAINING_CLOCK is off)")
        if not principal.has_role(DEPLOYER_ROLE):
            raise Refused(f"moving the training clock needs the role {DEPLOYER_ROLE}")

    def now(self, principal: Principal) -> datetime:
        """The training server's time."""
        self._require(principal)
        return self.clock.now()

    def advance(self, principal: Principal, duration: str) -> datetime:
        """Move the clock forward by an ISO 8601 duration (P7D); due timers fire on the worker's next round."""
        self._require(principal)
        now = self.clock.now()
        try:
            delta = duration_from(duration, now)
        except ValueError:
            raise InvalidInput(f"{duration[:40]!r} is not an ISO 8601 duration such as P7D",
                               [FieldError("/by", "not an ISO 8601 duration")]) from None
        if delta <= timedelta(0) or delta > MAX_STEP:
            raise InvalidInput("the clock moves forward, at most a year at a time",
                               [FieldError("/by", "must be more than zero and at most P1Y")])
        return self.clock.advance(delta)
