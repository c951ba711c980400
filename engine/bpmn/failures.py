"""Run-time failures as facts: which element failed, why in plain words, and the data it saw.

Any error raised while the engine runs a case on (a SpiffWorkflow error, an evaluation budget
exceeded, a decision table without a matching rule, or anything else an element raises) is
caught where the runner advances the workflow and becomes an `Incident`. The failing element is
put back to READY with the data it had before it ran, so the saved state is the case at that
element and a retry runs it again.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from SpiffWorkflow.util.task import TaskState

MAX_ERROR = 1000


class NoMatchingRule(Exception):
    """A decision table (any hit policy but COLLECT) has no rule for the data it was given."""


def check_decision(task) -> None:
    """Raise NoMatchingRule before a business rule task runs if its decision has no rule for the task's data
    (SpiffWorkflow would quietly produce nothing, and the case would fail later, further from the cause)."""
    engine = getattr(task.task_spec, "dmnEngine", None)
    if engine is None or engine.decision_table.hit_policy == "COLLECT":
        return
    if not engine.decide(task):
        table = engine.decision_table
        raise NoMatchingRule(f"the decision {table.name or table.id} has no rule that matches this case's data")


@dataclass
class Incident:
    """A step the engine could not take: the element, the error and the data it saw."""

    task_id: str | None
    element_id: str | None
    element_name: str | None
    element_type: str | None
    error: str
    error_type: str
    data: dict


def plain_error(exc: BaseException) -> str:
    """The error's first line, with the underlying cause (a missing name, a division by zero) after it."""
    message = str(exc).split("\n")[0].strip().rstrip(". ")
    cause = exc.__cause__ or exc.__context__
    seen = {id(exc)}
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        text = str(cause).split("\n")[0].strip()
        if text and text not in message:
            message = f"{message}: {text}" if message else text
        cause = cause.__cause__ or cause.__context__
    return (message or type(exc).__name__)[:MAX_ERROR]


def _failing_task(exc: BaseException, workflow, current):
    task = getattr(exc, "task", None)
    if task is not None and getattr(task, "id", None) is not None:
        return task
    if current is not None:
        return current
    errored = [t for t in workflow.get_tasks(state=TaskState.ERROR)]
    return errored[0] if errored else None


def capture(exc: BaseException, workflow, current, data_before: dict | None) -> Incident:
    """Turn `exc`, raised while running `current` (if known), into an Incident; the failing task is made READY
    again with the data it had before it ran."""
    task = _failing_task(exc, workflow, current)
    if task is None:
        return Incident(None, None, None, None, plain_error(exc), type(exc).__name__, {})
    if data_before is not None and task is current:
        task.data = copy.deepcopy(data_before)
    if task.state in (TaskState.ERROR, TaskState.STARTED):
        task._set_state(TaskState.READY)
    spec = task.task_spec
    return Incident(str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, type(spec).__name__,
                    plain_error(exc), getattr(exc, "error_type", None) or type(exc).__name__,
                    copy.deepcopy(dict(task.data)))


def failing_task(workflow, task_id: str):
    """The READY task an incident stopped at, or None if the case has moved past it."""
    for wf in [workflow, *workflow.subprocesses.values()]:
        for task in wf.get_tasks(state=TaskState.READY):
            if str(task.id) == task_id:
                return task
    return None
