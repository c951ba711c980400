"""Aggregate figures of a process for its owners: counts only, never a case or its data."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import case as when
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.access.identity import Principal
from engine.access.policy import OWNER_ROLE, is_system
from engine.casework import deployments
from engine.casework.cases import STATUSES
from engine.core.clock import Clock
from engine.core.errors import Refused
from engine.core.models import Case, UserTask


@dataclass
class StepFigures:
    element_id: str
    name: str
    open: int
    overdue: int


@dataclass
class ProcessFigures:
    process_key: str
    cases: dict[str, int] = field(default_factory=dict)  # by status
    open_tasks: list[StepFigures] = field(default_factory=list)


def figures(session: Session, clock: Clock, principal: Principal, process_key: str) -> ProcessFigures:
    """Cases by status and open tasks per step with how many are overdue (role processagare)."""
    if not (principal.has_role(OWNER_ROLE) or is_system(principal)):
        raise Refused(f"figures are for the role {OWNER_ROLE}")
    deployments.get_version(session, process_key)  # NotFound for an unknown process
    result = ProcessFigures(process_key, {s: 0 for s in STATUSES})
    for status, count in session.execute(select(Case.status, func.count()).where(Case.process_key == process_key)
                                         .group_by(Case.status)):
        result.cases[status] = count
    overdue = func.sum(when((UserTask.due_at < clock.now(), 1), else_=0))
    rows = session.execute(select(UserTask.element_id, func.min(UserTask.name), func.count(), overdue)
                           .where(UserTask.process_key == process_key, UserTask.state == "open")
                           .group_by(UserTask.element_id).order_by(UserTask.element_id))
    result.open_tasks = [StepFigures(e, n, c, int(o or 0)) for e, n, c, o in rows]
    return result
