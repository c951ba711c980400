"""What one evaluation, and one run of the engine, may cost: limits enforced while they run.

An uploaded model is checked for what it may *say* (engine.bpmn.expressions); this module
bounds what it may *cost*. `Meter` counts the interpreter's steps and wall time and measures
every value an expression builds, before the operation that would build too large a one
(`x = x * x` on a big number, a long string, a list of lists). Whatever breaks a limit raises
`BudgetExceeded`, which names the rule and, once the runner knows it, the element.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from engine.core.errors import FieldError, InvalidInput
from engine.core.settings import Settings, get_settings


@dataclass(frozen=True)
class TimerLimits:
    """What a timer definition may say, at deploy and when an expression computes it at run time."""

    min_cycle_seconds: float = 60.0  # the shortest period of a repeating timer
    horizon_days: int = 36525  # no timer further away than this (100 years)
    max_repetitions: int = 1000  # R<n>/…: the largest n


@dataclass(frozen=True)
class Budget:
    """The limits of one evaluation (`seconds` … `output_bytes`) and of one engine run (`engine_*`)."""

    seconds: float = 1.0  # wall time of one evaluation (a condition, a script, a decision cell)
    steps: int = 100_000  # interpreter steps (syntax nodes visited) of one evaluation
    int_bits: int = 4096  # the largest integer any step may make (about 1,230 digits)
    value_bytes: int = 1_000_000  # the largest value any step may make (strings, lists, dicts, measured deep)
    output_bytes: int = 256_000  # what one evaluation returns, or one script writes, in all
    engine_steps: int = 500  # elements one request or one timer firing may run before it waits
    engine_seconds: float = 10.0  # wall time of one request's or firing's engine run
    timers: TimerLimits = field(default_factory=TimerLimits)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "Budget":
        """The budget the operator configured (SAMVERKA_EXPRESSION_* / SAMVERKA_ENGINE_* / SAMVERKA_TIMER_*)."""
        s = settings or get_settings()
        return cls(s.expression_max_seconds, s.expression_max_steps, s.expression_max_int_bits,
                   s.expression_max_value_bytes, s.expression_max_output_bytes, s.engine_max_steps,
                   s.engine_max_seconds, TimerLimits(s.timer_min_cycle_seconds, s.timer_max_horizon_days,
                                                     s.timer_max_repetitions))


class BudgetExceeded(InvalidInput):
    """A model did more than its budget allows; the case's step fails, nothing of it is applied."""

    title = "Budget exceeded"

    def __init__(self, rule: str, detail: str, element: str | None = None):
        self.rule, self.element, self.reason = rule, element, detail
        where = f" at {element}" if element else ""
        super().__init__(f"the process could not continue{where}: {detail} (limit: {rule})",
                         [FieldError(f"process/{element}" if element else "process", f"{detail} (limit: {rule})",
                                     element=element)])

    def at(self, element: str | None) -> "BudgetExceeded":
        """The same refusal, naming the element it happened at."""
        return self if self.element or not element else BudgetExceeded(self.rule, self.reason, element)


def find_budget_error(exc: BaseException | None) -> BudgetExceeded | None:
    """The BudgetExceeded an exception was raised from, if any (the library wraps what evaluations raise)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, BudgetExceeded):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


_SCALAR_BYTES = 8


_CONTAINERS = (list, tuple, set, frozenset, dict)


def _own_size(item) -> int:
    kind = type(item)
    if kind is str:
        return _SCALAR_BYTES + len(item)
    if kind is int:
        return _SCALAR_BYTES + item.bit_length() // 8
    return _SCALAR_BYTES


def size_of(value, limit: int) -> int:
    """About how many bytes `value` holds written out (shared parts count each time); stops past `limit`.

    A part shared many times (`l = [l, l]`, sixty times over) is measured once and counted each time it
    is referred to, so the cost of measuring is the value's distinct parts, not its written-out size.
    A value that contains itself would be endless written out: it is past any limit."""
    known: dict[int, int] = {}  # id -> size of the containers measured so far (alive: they are parts of value)
    open_ids: set[int] = set()  # containers being measured: met again inside themselves, a cycle
    stack: list[list] = [[value, None, 0]]  # [item, iterator over its parts, size so far]
    visited = 0
    while True:
        frame = stack[-1]
        item, parts = frame[0], frame[1]
        if parts is None and type(item) in _CONTAINERS and id(item) not in known:
            if id(item) in open_ids:
                return limit + 1
            open_ids.add(id(item))
            frame[1] = iter([*item.keys(), *item.values()] if type(item) is dict else item)
            frame[2] = _SCALAR_BYTES
            continue
        if parts is not None:
            part = next(parts, stack)  # the stack itself marks the end: no value is it
            if part is not stack:
                visited += 1
                if visited * _SCALAR_BYTES > limit:  # each distinct part is written out at least once
                    return limit + 1
                stack.append([part, None, 0])
                continue
            size = known[id(item)] = frame[2]
            open_ids.discard(id(item))
        else:
            size = known[id(item)] if type(item) in _CONTAINERS else _own_size(item)
        stack.pop()
        if not stack:
            return size
        stack[-1][2] += size
        if stack[-1][2] > limit:  # sizes only add up: past the limit here, past it in the whole
            return stack[-1][2]


def cpu_seconds() -> float:
    """The CPU time of the calling thread: what an evaluation or engine run costs, whatever else the machine is
    doing. Budgets are not wall-clock time, which grows with the load: on a busy machine a legitimate decision
    table then ran "too long" and its case took the wrong turn (a flaky ladder test, issue 19)."""
    return time.thread_time()


class Meter:
    """Counts one evaluation's steps and CPU time, and refuses values beyond the budget as they are made."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self.steps = 0
        self.deadline = cpu_seconds() + budget.seconds

    def tick(self) -> None:
        """One interpreter step: refuse once the evaluation has run too many steps or too long."""
        self.steps += 1
        if self.steps > self.budget.steps:
            raise BudgetExceeded(f"{self.budget.steps} evaluation steps",
                                 "an expression or script took too many steps")
        # The clock is a system call; every 32nd step is often enough (a step is microseconds, values are capped).
        if not self.steps % 32 and cpu_seconds() > self.deadline:
            raise BudgetExceeded(f"{self.budget.seconds:g} s of CPU per evaluation",
                                 "an expression or script ran too long")

    def check_int(self, bits: int) -> None:
        if bits > self.budget.int_bits:
            raise BudgetExceeded(f"numbers of at most {self.budget.int_bits} bits",
                                 f"an expression would make a number of about {bits} bits")

    def check_size(self, size: int, limit: int | None = None, what: str = "a value") -> None:
        limit = self.budget.value_bytes if limit is None else limit
        if size > limit:
            raise BudgetExceeded(f"{limit} bytes per value" if what == "a value" else f"{limit} bytes of {what}",
                                 f"an expression would make {what} of more than {limit} bytes")

    def check_value(self, value, limit: int | None = None, what: str = "a value") -> None:
        """Refuse a value larger than the budget allows (integers by their bits, the rest measured deep)."""
        if type(value) is int:
            self.check_int(value.bit_length())
        elif type(value) in (str, list, tuple, dict, set, frozenset):
            limit = self.budget.value_bytes if limit is None else limit
            self.check_size(size_of(value, limit), limit, what)


class EngineMeter:
    """The budget of one engine run: how many elements it completes and for how long, before it waits."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self.steps = 0
        self.deadline = cpu_seconds() + budget.engine_seconds

    def step(self, element: str | None) -> None:
        self.steps += 1
        if self.steps > self.budget.engine_steps:
            raise BudgetExceeded(f"{self.budget.engine_steps} elements per step of a case",
                                 "the process ran too many elements without waiting (a loop with no task "
                                 "or timer in it?)", element)
        if cpu_seconds() > self.deadline:
            raise BudgetExceeded(f"{self.budget.engine_seconds:g} s of CPU per step of a case",
                                 "the process ran too long without waiting", element)
