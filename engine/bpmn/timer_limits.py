"""What a timer may say: no zero or negative spans, no cycle below the floor, nothing beyond the horizon.

A zero period (`R/PT0S`) would fire without end in one step, a negative one (`-P1D`) never
makes sense, and a date a thousand years out is a typo. The same rules are checked at deploy
for every literal (and every ISO string inside a timer expression), and at run time for the
value an expression computes (engine.bpmn.timer_events).
"""
from __future__ import annotations

import ast
import re
from datetime import datetime, timedelta, timezone

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.bpmn.budget import TimerLimits
from engine.core.clock import as_utc

SIGNED = re.compile(r"^\s*[-+]\s*(P|R)", re.I)  # -P1D, +PT8H: ISO 8601 has no signed durations


class TimerRuleBroken(ValueError):
    """A timer value breaks a rule; `rule` says which, in words a process owner reads."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def _library(parse, text: str, *args):
    """A library parse; it raises bare Exceptions for bad values, which are ValueErrors here."""
    try:
        return parse(text, *args)
    except OverflowError:
        raise
    except Exception:  # noqa: BLE001 - Exception('Invalid duration') and friends
        raise ValueError(f"{text[:80]!r} is not an ISO 8601 value") from None


# The fewest days each part of a duration can mean (a month is at least 28 days, a year 365).
_LEAST_DAYS = {"years": 365, "months": 28, "weeks": 7, "days": 1, "hours": 1 / 24, "minutes": 1 / 1440,
               "seconds": 1 / 86400}


def bounded_span(text: str, start: datetime, horizon_days: int) -> timedelta:
    """The span a duration covers from `start`; OverflowError if it reaches past `horizon_days`."""
    parsed = _library(TimerEventDefinition.parse_iso_duration, text)
    # The library counts months one by one from the start: `P99999999Y` would take it minutes. Anything
    # that is past the horizon at its shortest is refused before it is counted.
    if sum(_LEAST_DAYS.get(part, 0) * abs(amount) for part, amount in parsed.items()) > horizon_days:
        raise OverflowError(text)
    return TimerEventDefinition.get_timedelta_from_start(parsed, start)


def _within_horizon(when: datetime, now: datetime, limits: TimerLimits, what: str) -> None:
    if when - now > timedelta(days=limits.horizon_days):
        raise TimerRuleBroken(f"no timer beyond {limits.horizon_days} days",
                              f"{what} is more than {limits.horizon_days} days away")


def _positive_span(text: str, now: datetime, limits: TimerLimits, what: str) -> timedelta:
    try:
        span = bounded_span(text, now, limits.horizon_days)
    except OverflowError:
        raise TimerRuleBroken(f"no timer beyond {limits.horizon_days} days",
                              f"{what} {text!r} is more than {limits.horizon_days} days long") from None
    if span <= timedelta(0):
        raise TimerRuleBroken("durations longer than zero", f"{what} {text!r} is not longer than zero")
    try:
        _within_horizon(now + span, now, limits, f"{what} {text!r}")
    except OverflowError:
        raise TimerRuleBroken(f"no timer beyond {limits.horizon_days} days",
                              f"{what} {text!r} is more than {limits.horizon_days} days long") from None
    return span


def check_timer(kind: str, value, limits: TimerLimits, now: datetime | None = None) -> None:
    """Raise TimerRuleBroken if a timer value (`P30D`, `R/P6M`, a date) breaks a rule; ValueError if it is none."""
    now = as_utc(now or datetime.now(timezone.utc))
    if not isinstance(value, str):
        raise TimerRuleBroken("an ISO 8601 text", f"the timer's value {str(value)[:80]!r} is not an ISO 8601 text")
    text = value.strip()
    if SIGNED.match(text):
        raise TimerRuleBroken("durations longer than zero", f"{text[:80]!r} is a negative or signed duration")
    if kind == "timeDuration":
        _positive_span(text, now, limits, "the duration")
    elif kind == "timeDate":
        try:
            when = as_utc(_library(TimerEventDefinition.parse_time_or_duration, text))
        except OverflowError:
            raise TimerRuleBroken(f"no timer beyond {limits.horizon_days} days", f"{text!r} is too far away") from None
        _within_horizon(when, now, limits, f"the date {text!r}")
    elif kind == "timeCycle":
        _check_cycle(text, now, limits)


def _check_cycle(text: str, now: datetime, limits: TimerLimits) -> None:
    parts = text.upper().split("/")
    if not parts[0].startswith("R"):
        raise ValueError(f"{text!r} is not a repeating interval (R/P6M)")
    count = parts[0][1:]
    if count and int(count) > limits.max_repetitions:
        raise TimerRuleBroken(f"at most {limits.max_repetitions} repetitions",
                              f"the cycle {text!r} repeats {int(count)} times")
    if count and int(count) == 0:
        raise TimerRuleBroken("cycles that repeat at least once", f"the cycle {text!r} repeats zero times")
    dates = [p for p in parts[1:] if not p.startswith("P")]
    start = now
    for part in dates:
        when = as_utc(_library(TimerEventDefinition.get_datetime, part))
        _within_horizon(when, now, limits, f"the date {part!r} of the cycle")
    if dates:
        start = as_utc(_library(TimerEventDefinition.get_datetime, dates[0]))
    periods = [p for p in parts[1:] if p.startswith("P")]
    if periods:
        period = _positive_span(periods[0], start, limits, "the period")
    elif len(dates) == 2:
        period = as_utc(_library(TimerEventDefinition.get_datetime, dates[1])) - start
    else:
        raise ValueError(f"{text!r} has no period")
    if period < timedelta(seconds=limits.min_cycle_seconds):
        raise TimerRuleBroken(f"cycles of at least {limits.min_cycle_seconds:g} s",
                              f"the cycle {text!r} repeats more often than every {limits.min_cycle_seconds:g} s")


def iso_constants(expression: str, looks_iso) -> list[str]:
    """The string constants of a timer expression that are (or look like) ISO 8601 values, to check them too."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return []
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and (looks_iso(n.value) or SIGNED.match(n.value))]
