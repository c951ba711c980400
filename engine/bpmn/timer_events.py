"""BPMN timer event definitions that read the engine clock instead of the system time.

SpiffWorkflow's timer definitions call datetime.now() directly; these subclasses take
the time from the clock carried by the workflow's script engine, and are registered
with the parser (`timer_event_definition`) and the serializer (engine.serializer).
`timer_validator` is the deploy-time check of a timer's text; the values the timers compute
at run time are held to the same rules (engine.bpmn.timer_limits) before they wait.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition, DurationTimerEventDefinition,
                                                              TimeDateEventDefinition, TimerEventDefinition)

from engine.bpmn.budget import BudgetExceeded, TimerLimits
from engine.bpmn.expressions import validate_expression
from engine.bpmn.timer_limits import SIGNED, TimerRuleBroken, bounded_span, check_timer, iso_constants
from engine.core.errors import ExpressionError, FieldError, InvalidInput


_DURATION = r"P(?!T?$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?!$)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
_DATE_TIME = r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
# What each timer element holds when it is written as the BPMN spec and Camunda write it.
ISO_LITERALS = {
    "timeDuration": re.compile(f"^{_DURATION}$"),
    "timeDate": re.compile(f"^{_DATE_TIME}$"),
    "timeCycle": re.compile(f"^R\\d*/(({_DATE_TIME})/)?{_DURATION}(/{_DATE_TIME})?$"),
}


def iso_literal(kind: str, text: str | None) -> bool:
    """Whether a timer's text is an ISO 8601 literal (`P30D`, `R/P6M`, `2026-01-01T00:00:00Z`) for its kind."""
    pattern = ISO_LITERALS.get(kind)
    return bool(pattern and text and pattern.match(text.strip()))


def check_iso_literal(kind: str, text: str) -> None:
    """ValueError if a literal that looks like ISO 8601 is not a valid one (a 13th month, say)."""
    text = text.strip()
    try:
        if kind == "timeDate":
            TimerEventDefinition.parse_time_or_duration(text)
        elif kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(text)
        else:
            _recurring_interval(text, datetime.now().astimezone())
    except Exception:  # noqa: BLE001 - the library raises several types for a bad value
        raise ValueError(f"{text!r} is not a valid ISO 8601 {kind}") from None


_ALMOST_ISO = re.compile(r"^[-+]?(P|R[0-9]*/|[0-9]{4}-)[0-9A-Z.:/+-]*$")


def timer_validator(kind: str, limits: TimerLimits):
    """A timer holds an ISO 8601 literal or, failing that, an expression of the engine's language.

    Either way every ISO value it holds (the literal, or each ISO string in the expression) must keep
    the timer rules: longer than zero, cycles no shorter than the floor, nothing beyond the horizon."""
    def keeps_rules(value: str) -> None:
        try:
            check_timer(kind, value, limits)
        except TimerRuleBroken as exc:
            raise ExpressionError(f"{exc} (rule: {exc.rule})", value, {"timer": True}) from None
        except (ValueError, OverflowError):
            raise ExpressionError(f"{value.strip()[:80]!r} is not a valid ISO 8601 {kind}", value) from None

    def validate(text):
        if not iso_literal(kind, text):
            if SIGNED.match(text):
                keeps_rules(text)
            if _ALMOST_ISO.match(text):  # P14X, a typo, would otherwise be read as a variable's name
                raise ExpressionError(f"{text[:80]!r} looks like an ISO 8601 {kind} but is not one "
                                      "(e.g. P30D, PT8H, R/P6M, 2026-01-01T00:00:00Z)", text)
            validate_expression(text)
            for value in iso_constants(text, lambda v: iso_literal(kind, v)):
                keeps_rules(value)
            return
        try:
            check_iso_literal(kind, text)
        except ValueError as exc:
            raise ExpressionError(str(exc), text) from None
        keeps_rules(text)
    return validate


def duration_from(value: str, start: datetime) -> timedelta:
    """The span an ISO 8601 duration (`P30D`, `P1M`) covers from `start`; ValueError if it is not one."""
    try:
        return bounded_span(value, start, TimerLimits().horizon_days)
    except OverflowError:
        raise ValueError(f"{value[:80]!r} is longer than {TimerLimits().horizon_days} days") from None
    except Exception:  # noqa: BLE001 - the library raises several types for a bad duration
        raise ValueError(f"{value!r} is not an ISO 8601 duration") from None


def _now(my_task) -> datetime:
    return my_task.workflow.top_workflow.script_engine.clock.now()


def _evaluate(my_task, expression: str):
    return my_task.workflow.script_engine.evaluate(my_task, expression)


def _checked(my_task, kind: str, value):
    """A value a timer expression computed, held to the timer rules; a broken rule fails this case's step."""
    engine = my_task.workflow.top_workflow.script_engine
    element = my_task.task_spec.bpmn_id
    try:
        check_timer(kind, value, engine.budget.timers, engine.clock.now())
    except TimerRuleBroken as exc:
        raise BudgetExceeded(exc.rule, f"the timer's value breaks a rule: {exc}", element) from None
    except Exception:  # noqa: BLE001 - the library raises several types for a bad value
        raise InvalidInput(f"the process could not continue at {element}: {str(value)[:80]!r} is not an ISO 8601 "
                           f"{kind}", [FieldError(f"process/{element}", f"{str(value)[:80]!r} is not an ISO 8601 "
                                                  f"{kind}", element=element)]) from None
    return value


class ClockTimeDate(TimeDateEventDefinition):
    """A timer firing at a given date/time, judged by the engine clock."""

    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = _checked(my_task, "timeDate", _evaluate(my_task, self.expression))
            my_task._set_internal_data(event_value=event_value)
            if TimerEventDefinition.parse_time_or_duration(event_value) <= _now(my_task):
                # Already past when it started waiting (a late SIP task, a late absence report): it fires in
                # this very step, with no pending timer row, so the runner records it itself.
                my_task._set_internal_data(late_on_arrival=True)
        if TimerEventDefinition.parse_time_or_duration(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockDuration(DurationTimerEventDefinition):
    """A timer firing a duration after it starts waiting, by the engine clock."""

    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        now = _now(my_task)
        if event_value is None:
            expression = _checked(my_task, "timeDuration", _evaluate(my_task, self.expression))
            parsed = TimerEventDefinition.parse_iso_duration(expression)
            event_value = (now + TimerEventDefinition.get_timedelta_from_start(parsed, now)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) <= now:
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockCycle(CycleTimerEventDefinition):
    """A repeating timer (R/…/P…), counted by the engine clock."""

    def cycle_complete(self, my_task):
        now = _now(my_task)
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = _checked(my_task, "timeCycle", _evaluate(my_task, self.expression))
            cycles, start, duration, period = _recurring_interval(expression, now)
            event_value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
            if period:
                event_value["period"] = period
        ready = False
        if event_value["cycles"] != 0:
            next_event = datetime.fromisoformat(event_value["next"])
            if next_event <= now:
                event_value["next"] = next_period(next_event, event_value).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready


def next_period(previous: datetime, event_value: dict) -> datetime:
    """The next firing: calendar months and years stay on the same day of the month (R/P6M)."""
    period = event_value.get("period")
    if period:
        parsed = TimerEventDefinition.parse_iso_duration(period)
        following = previous + TimerEventDefinition.get_timedelta_from_start(parsed, previous)
    else:
        following = previous + timedelta(seconds=event_value["duration"])
    if following <= previous:  # checked at deploy and when computed; never loop on a period of zero
        raise BudgetExceeded("cycles longer than zero", f"the cycle's period {period or event_value['duration']!r} "
                             "is not longer than zero")
    return following


def _recurring_interval(expression: str, now: datetime):
    components = expression.upper().replace("--", "/").strip("R").split("/")
    if len(components) == 2 and components[1].startswith("P"):
        cycles = int(components[0]) if components[0] else -1
        parsed = TimerEventDefinition.parse_iso_duration(components[1])
        duration = TimerEventDefinition.get_timedelta_from_start(parsed, now)
        return cycles, now + duration, duration, components[1]
    return (*TimerEventDefinition.parse_iso_recurring_interval(expression), None)


CLOCK_TIMERS = {
    TimeDateEventDefinition: ClockTimeDate,
    DurationTimerEventDefinition: ClockDuration,
    CycleTimerEventDefinition: ClockCycle,
}


KINDS = {TimeDateEventDefinition: "timeDate", DurationTimerEventDefinition: "timeDuration",
         CycleTimerEventDefinition: "timeCycle"}


def timer_event_definition(parsed: TimerEventDefinition) -> TimerEventDefinition:
    """Return the engine-clock twin of a timer definition the library's parser built.

    An ISO 8601 literal is a literal (the BPMN spelling, `P30D`); anything else is an expression
    of the engine's language (`"P30D"`, `natverksmote_1_mal`). The library evaluates every timer
    as an expression, so a literal is handed to it quoted.
    """
    cls = CLOCK_TIMERS.get(type(parsed))
    if cls is None:
        return parsed
    expression = parsed.expression
    if iso_literal(KINDS[type(parsed)], expression):
        expression = repr(expression.strip())
    return cls(parsed.name, expression, description=parsed.description)
