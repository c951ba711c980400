"""The training deployment's clock (SAMVERKA_TRAINING_CLOCK): try deadlines without waiting for them."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import PrincipalDep
from engine.casework.training import TrainingClockService

router = APIRouter(tags=["training"])


class ClockOut(BaseModel):
    now: datetime = Field(description="The training server's time")


class Advance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field("", description="ISO 8601 duration to move forward, e.g. P7D", max_length=40)


def _service(request: Request) -> TrainingClockService:
    return TrainingClockService(request.app.state.settings, request.app.state.clock)


@router.get("/training/clock", response_model=ClockOut)
def training_clock(request: Request, principal: PrincipalDep):
    """The training clock's time; 404 on a server without one. Process owners only."""
    return ClockOut(now=_service(request).now(principal))


@router.post("/training/clock/advance", response_model=ClockOut)
def advance_training_clock(request: Request, principal: PrincipalDep, body: Advance | None = None):
    """Move the training clock forward (never back); due deadlines fire on the worker's next round.

    404 on a server without a training clock (the default, and always in production)."""
    return ClockOut(now=_service(request).advance(principal, (body or Advance()).by))
