"""Suspension: a process owner pauses a case and resumes it where it stopped.

While a case is suspended its tasks cannot be completed (a 409 that says so), its timers are
not claimed by any worker (they stay due and fire, late, once it is resumed) and messages for it
are held in order and delivered on resume. Both are history entries and events.
"""
from __future__ import annotations

from engine.access import audit
from engine.access.identity import Principal, principal_data, principal_from
from engine.bpmn.runner import StepRecord
from engine.casework.incidents import require_owner
from engine.core.errors import InvalidTransition, NotFound, Refused


def refuse_if_suspended(case, action: str) -> None:
    """InvalidTransition (409) naming the suspension, for work a suspended case does not take."""
    if case.suspended_at is not None:
        raise InvalidTransition(f"case {case.id} is suspended (since {case.suspended_at.isoformat()}): {action} "
                                "waits until a process owner resumes it")


def hold(cases, case, principal: Principal, name: str, data: dict) -> None:
    """Keep a message for a suspended case, to deliver on resume."""
    if name not in cases.spec_for(cases.version_of(case)).messages:
        raise NotFound(f"the process has no message {name}")
    sender = principal_data(principal)
    case.held_messages = [*(case.held_messages or []), {"name": name, "data": data, "from": sender}]
    cases.record_history(case, principal, cases.clock.now(), StepRecord(
        "message_held", None, name, "Message", details={"message": name}))
    cases.session.flush()


class SuspensionService:
    """Suspend and resume cases (role processagare); the caller owns the transaction."""

    def __init__(self, cases):
        self.cases, self.session, self.clock = cases, cases.session, cases.clock

    def suspend(self, principal: Principal, case_id: str, reason: str | None = None):
        require_owner(principal)
        case = self.cases.load(case_id)
        if case.status != "open":
            raise InvalidTransition(f"case {case_id} is {case.status}; only open cases can be suspended")
        if case.suspended_at is not None:
            return case  # already suspended: nothing changes, no second history entry
        now = self.clock.now()
        case.suspended_at, case.updated_at = now, now
        self.cases.record_history(case, principal, now, StepRecord(
            "case_suspended", None, None, None, details={"reason": reason} if reason else None))
        audit.record(self.session, self.clock, principal, [case.id], "write", "case suspended")
        self.session.flush()
        return case

    def resume(self, principal: Principal, case_id: str):
        """Resume a suspended case: held messages are delivered in order; due timers fire at the worker's next turn.
        A case that is not suspended is left as it is."""
        require_owner(principal)
        case = self.cases.load(case_id)
        if case.suspended_at is None:
            return case
        now = self.clock.now()
        held, since = case.held_messages or [], case.suspended_at
        case.suspended_at, case.held_messages, case.updated_at = None, None, now
        self.cases.record_history(case, principal, now, StepRecord(
            "case_resumed", None, None, None, details={"suspended_at": since.isoformat(), "held_messages": len(held)}))
        self.session.flush()
        for message in held:
            sender = principal_from(message["from"])
            try:
                with self.session.begin_nested():
                    self.cases.deliver(sender, case.id, message["name"], message["data"], authorized=True)
            except (InvalidTransition, NotFound, Refused) as exc:  # the case stopped waiting for it (or the
                # sender left the case) while suspended
                self.cases.record_history(case, principal, now, StepRecord(
                    "message_dropped", None, message["name"], "Message",
                    details={"message": message["name"], "reason": exc.detail}))
        audit.record(self.session, self.clock, principal, [case.id], "write", "case resumed")
        self.session.flush()
        return case
