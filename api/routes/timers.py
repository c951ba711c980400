"""Timers and deadlines: what is pending on a case, and what is due for the caller's roles."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from engine.casework.timers import TimerService

from ..deps import CasesDep, PrincipalDep
from ..schemas import DeadlineOut, Page, TaskOut, TimerDetail, TimerOut

router = APIRouter(tags=["timers"])


@router.get("/cases/{case_id}/timers", response_model=list[TimerDetail])
def case_timers(case_id: str, cases: CasesDep, principal: PrincipalDep):
    """The case's pending timers, soonest first: what each is, when it is due and what happens when it fires."""
    return [TimerDetail(**TimerOut.model_validate(timer).model_dump(), description=description)
            for timer, description in TimerService(cases).for_case(principal, case_id)]


@router.get("/deadlines", response_model=Page[DeadlineOut])
def deadlines(cases: CasesDep, principal: PrincipalDep,
              within_days: Annotated[int, Query(ge=0, le=3660, description="Include tasks due this many days ahead")] = 7,
              role: Annotated[str | None, Query(max_length=200, description="Only this one of your roles")] = None,
              sort: Literal["due_at", "-due_at"] = "due_at", cursor: str | None = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50):
    """Open tasks for your roles that are overdue or due within `within_days`: what is due this week."""
    page = TimerService(cases).deadlines(principal, within_days, role, sort == "-due_at", cursor, limit)
    items = [DeadlineOut(**TaskOut.model_validate(t).model_dump(), overdue=overdue) for t, overdue in page.items]
    return Page[DeadlineOut](items=items, next_cursor=page.next_cursor)
