"""Timers: find the due ones, fire each exactly once, put off failures, and list deadlines.

Claiming locks the *case* row (FOR UPDATE SKIP LOCKED on PostgreSQL), so one case is
fired by one worker at a time and every write to its timers happens under that lock;
firing, the new case state, its timer rows and history commit in one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from engine.access import audit
from engine.access.identity import Principal
from engine.access.policy import require_caseworker
from engine.bpmn.runner import StepRecord
from engine.casework.cases import CaseService
from engine.core.errors import FieldError, InvalidInput, Refused
from engine.core.models import Case, Timer, UserTask
from engine.core.paging import Page, keyset_page
from engine.core.roles import role_id

TIMER_ACTOR = Principal(user="samverka-timer", agency=None, roles=frozenset({"system"}), client="worker")
MAX_BACKOFF = timedelta(hours=1)


@dataclass
class Fired:
    """One timer firing, for the worker's log and metrics."""

    case_id: str
    process_key: str
    timer_id: str
    element_id: str
    due_at: datetime
    fired_at: datetime
    deadline_of: str | None  # the user task whose deadline passed, if any

    @property
    def lag_seconds(self) -> float:
        return (self.fired_at - self.due_at).total_seconds()


def backoff(attempts: int) -> timedelta:
    """How long to put a failing timer off after `attempts` failures: 1 min, doubling, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


_EFFECTS = {
    "interrupts_task": "Avbryter {task} och går vidare till {leads}.",
    "runs_alongside_task": "Startar {leads} medan {task} fortsätter.",
    "continues": "Ärendet går vidare till {leads}.",
    "interrupts_process": "Avbryter ärendets pågående steg och startar {leads}.",
    "runs_alongside_process": "Startar {leads} vid sidan av ärendets pågående steg.",
}


def describe(timer: Timer, task_name: str | None) -> str:
    """What happens when `timer` fires, in the words caseworkers use."""
    leads = ", ".join(f"«{name}»" for name in timer.leads_to) or "nästa steg"
    text = _EFFECTS.get(timer.effect, _EFFECTS["continues"]).format(task=f"«{task_name or 'uppgiften'}»", leads=leads)
    return f"{text} Upprepas enligt {timer.expression}." if timer.repeats else text


class TimerService:
    """Timer operations on one session; the caller owns the transaction."""

    def __init__(self, cases: CaseService):
        self.cases, self.session, self.clock = cases, cases.session, cases.clock

    def claim_query(self, limit: int):
        """The claim as a statement: due timers by the index on fire_at, their cases locked, others' locks skipped."""
        # A suspended case's timers stay due and are left alone: they fire, late, once it is resumed.
        query = (select(Case.id).join(Timer, Timer.case_id == Case.id)
                 .where(Timer.fire_at <= self.clock.now(), Case.suspended_at.is_(None))
                 .order_by(Timer.fire_at).limit(limit))
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=Case, skip_locked=True)
        return query

    def claim(self, limit: int) -> list[str]:
        """Ids of up to `limit` cases with a due timer, oldest due first, locked for this transaction."""
        return list(dict.fromkeys(self.session.scalars(self.claim_query(limit))))

    def next_fire_at(self) -> datetime | None:
        """When the next timer is due, for the worker's sleep."""
        return self.session.scalar(select(func.min(Timer.fire_at)).join(Case, Case.id == Timer.case_id)
                                   .where(Case.suspended_at.is_(None)))

    def fire(self, case_id: str) -> list[Fired]:
        """Fire every due timer of a claimed case and run it on; returns what fired."""
        now = self.clock.now()
        case = self.session.scalar(select(Case).where(Case.id == case_id).execution_options(populate_existing=True))
        due = list(self.session.scalars(select(Timer).where(Timer.case_id == case_id, Timer.fire_at <= now)
                                        .execution_options(populate_existing=True)))
        if case is None or not due or case.suspended_at is not None:
            return []  # another worker fired it between our claim and our read, or it was suspended since
        if case.status != "open":
            for row in due:
                self.session.delete(row)
            return []
        snapshot = self.cases.runner.refresh(self.cases.workflow_of(case))
        records: list[StepRecord] = []
        fired: list[Fired] = []
        for record in snapshot.records:
            records.append(record)
            if record.event != "timer_fired":
                continue
            details = record.details
            # A one-off timer on an activity is its deadline; a repeating one is a reminder, not a miss.
            deadline = bool(details.get("attached_element")) and not details.get("repeats")
            fired.append(Fired(case.id, case.process_key, record.task_id, record.element_id,
                               datetime.fromisoformat(details["due_at"]), now,
                               details["attached_to"] if deadline else None))
            if deadline:
                records.append(StepRecord("deadline_missed", details["attached_element"], details["attached_name"],
                                          None, details["attached_to"],
                                          details={"due_at": details["due_at"], "timer": record.element_id}))
        snapshot.records = records
        self.cases.apply(case, snapshot, TIMER_ACTOR)
        still_due = self.session.scalars(select(Timer.id).where(Timer.case_id == case_id, Timer.fire_at <= now))
        stuck = sorted(set(still_due) - {f.timer_id for f in fired})
        if stuck:
            self.defer(case_id, "the process did not fire the timer when it was due", only=stuck)
        return fired

    def defer(self, case_id: str, error: str, only: list[str] | None = None) -> None:
        """Put off a case's due timers after a failed attempt, with back-off, and record why."""
        now = self.clock.now()
        case = self.session.get(Case, case_id)
        rows = self.session.scalars(select(Timer).where(Timer.case_id == case_id, Timer.fire_at <= now))
        for row in rows:
            if only is not None and row.id not in only:
                continue
            row.attempts += 1
            row.fire_at, row.last_error = now + backoff(row.attempts), error[:2000]
            if case is not None:
                self.cases.record_history(case, TIMER_ACTOR, now, StepRecord(
                    "timer_failed", row.element_id, row.name, "TimerEvent", row.id,
                    details={"error": error[:500], "attempts": row.attempts, "retry_at": row.fire_at.isoformat()}))
        self.session.flush()

    def for_case(self, principal: Principal, case_id: str) -> list[tuple[Timer, str]]:
        """A case's pending timers, soonest first, each with what happens when it fires."""
        self.cases.access.readable(principal, case_id, "timers")
        timers = list(self.session.scalars(select(Timer).where(Timer.case_id == case_id)
                                           .order_by(Timer.due_at, Timer.id)))
        names = dict(self.session.execute(select(UserTask.id, UserTask.name).where(UserTask.case_id == case_id)).all())
        return [(t, describe(t, names.get(t.attached_to))) for t in timers]

    def deadlines(self, principal: Principal, within_days: int, role: str | None, descending: bool,
                  cursor: str | None, limit: int) -> Page:
        """Open tasks of the caller's roles that are overdue or due within `within_days`, each with `overdue`."""
        require_caseworker(principal)
        roles = sorted(principal.role_ids)
        if role is not None:
            if not principal.has_role(role):
                raise Refused(f"you do not hold the role {role}")
            roles = [role_id(role)]
        if within_days < 0:
            raise InvalidInput("within_days must not be negative", [FieldError("/within_days", "must be >= 0")])
        now = self.clock.now()
        horizon = now + timedelta(days=within_days)
        query = select(UserTask).where(UserTask.candidate_group.in_(roles), UserTask.state == "open",
                                       UserTask.due_at.is_not(None), UserTask.due_at <= horizon)
        query = self.cases.access.actionable_tasks(query, principal)
        page = keyset_page(self.session, query, UserTask.due_at, UserTask.id, cursor, limit, descending)
        audit.record(self.session, self.clock, principal, [t.case_id for t in page.items], "read", "deadlines")
        page.items = [(task, task.due_at <= now) for task in page.items]
        return page
