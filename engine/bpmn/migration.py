"""Moving a running workflow onto another version of its process, on the engine's compacted state.

Alignment is SpiffWorkflow's `SpecDiff` (SpiffWorkflow.bpmn.util.diff) restricted to what a process
owner can predict: elements keep their id unless the plan maps them (`{"from": …, "to": …}`); the
library's structural guesses for unmatched elements are not used. A workflow can move when every
active task (open, waiting, ready) of it and of its running subprocesses has a counterpart, and no
waiting join has had its incoming branches changed.

Moving re-points every task at its counterpart (finished tasks the new version lacks keep their
place in the tree under the process's start spec: only history reads them), and resets each active
task whose element changed, as `migrate_workflow` does, but keeping the task's id and data. A
duration timer that is reset is re-derived from when it started waiting, a date timer from the case's
data: a deadline that shortened and is already past is due at once. The caller runs nothing: the timer fires at the worker's turn.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.util.diff import SpecDiff
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import serializer
from engine.bpmn.timer_events import ClockDuration, ClockTimeDate, duration_from

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass
class Plan:
    """Whether a workflow can move, why not, and what moving it will do."""

    reasons: list[str] = field(default_factory=list)
    effects: list[str] = field(default_factory=list)

    @property
    def movable(self) -> bool:
        return not self.reasons


def _target(name: str, mapping: dict[str, str]) -> str:
    """The new spec name for an old one: mapped by element id (with the library's `.BoundaryEventSplit` kin)."""
    head, dot, tail = name.partition(".")
    return f"{mapping[head]}{dot}{tail}" if head in mapping else name


def _changed(registry, old_spec, new_spec) -> bool:
    a, b = registry.convert(old_spec), registry.convert(new_spec)
    return a.get("typename") != b.get("typename") or any(b.get(k) != v for k, v in a.items())


class _Alignment:
    """Old task spec -> new one (or None), and which aligned pairs changed."""

    def __init__(self, old_spec, new_spec, mapping: dict[str, str]):
        registry = serializer.registry()
        library = SpecDiff(registry, old_spec, new_spec)  # the library's alignment by id, its change detection
        self.pairs, self.changed = {}, set()
        for name, spec in old_spec.task_specs.items():
            target = new_spec.task_specs.get(_target(name, mapping))
            self.pairs[spec] = target
            if target is None:
                continue
            same = library.alignment.get(spec) is target and not library.comparisons.get(spec)
            if not same and _changed(registry, spec, target):
                self.changed.add(spec)
        self.start = new_spec.start


def _label(task) -> str:
    spec = task.task_spec
    return f"«{spec.bpmn_name or spec.bpmn_id}» ({spec.bpmn_id})"


def _workflows(workflow, old, new, mapping):
    """(workflow, its alignment or None if its process is gone) for the top workflow and each running subprocess."""
    yield workflow, _Alignment(workflow.spec, new.spec, mapping)
    for sub in workflow.subprocesses.values():
        if sub.completed:
            continue
        target = new.subprocess_specs.get(sub.spec.name)
        yield sub, (_Alignment(sub.spec, target, mapping) if target is not None else None)


def _gains_boundary(task, target, mapping: dict[str, str]) -> bool:
    """Whether the new version puts boundary events on an element the task already runs without them."""
    parent = task.parent.task_spec.name if task.parent is not None else None
    return any(isinstance(spec, BoundaryEventSplit) and _target(parent or "", mapping) != spec.name
               for spec in target.inputs)


def _duration_due(task, started: datetime, expression: str) -> datetime:
    value = task.workflow.script_engine.evaluate(task, expression)
    return started + duration_from(value, started)


def _date_due(task, expression: str) -> datetime:
    """When a date timer (`end_of_day(add_days(aktualiserad_datum, 21))`) is due on this case's data."""
    value = task.workflow.script_engine.evaluate(task, expression)
    return TimerEventDefinition.parse_time_or_duration(value)


def _timer_start(task) -> datetime | None:
    definition = getattr(task.task_spec, "event_definition", None)
    value = task._get_internal_data("event_value")
    if not isinstance(definition, ClockDuration) or not isinstance(value, str):
        return None
    due = datetime.fromisoformat(value)
    try:
        return due - duration_from(task.workflow.script_engine.evaluate(task, definition.expression), due)
    except Exception:  # noqa: BLE001 - a timer we cannot read back is re-derived from now by the library
        return None


def check(workflow, old, new, mapping: dict[str, str], now: datetime) -> Plan:
    """Whether `workflow` (loaded on `old`) can move onto `new` under `mapping`, without changing it."""
    plan = Plan()
    for wf, alignment in _workflows(workflow, old, new, mapping):
        active = [t for t in wf.get_tasks(state=ACTIVE, skip_subprocesses=True) if t.task_spec.bpmn_id]
        if alignment is None:
            plan.reasons.append(f"it is inside the subprocess {wf.spec.name}, which the new version does not have")
            continue
        for task in active:
            target = alignment.pairs.get(task.task_spec)
            if target is None:
                state = "open" if task.task_spec.manual else "waiting"
                plan.reasons.append(f"{_label(task)} is {state} at an element the new version does not have; "
                                    "map it to one that it has")
            elif _gains_boundary(task, target, mapping):
                plan.reasons.append(f"{_label(task)} gets a boundary event (a deadline, a message) in the new "
                                    "version, which a task already open there cannot take on; complete it first")
            elif isinstance(task.task_spec, UnstructuredJoin) and task.state == TaskState.WAITING and \
                    sorted(_target(s.name, mapping) for s in task.task_spec.inputs) != \
                    sorted(s.name for s in target.inputs):
                plan.reasons.append(f"the join {_label(task)} is waiting for branches, and its branches changed")
            elif task.task_spec in alignment.changed and task.state == TaskState.WAITING:
                started = _timer_start(task)
                definition = getattr(target, "event_definition", None)
                dated = isinstance(definition, ClockTimeDate)
                if dated or (started is not None and isinstance(definition, ClockDuration)):
                    try:
                        due = _date_due(task, definition.expression) if dated else \
                            _duration_due(task, started, definition.expression)
                    except Exception:  # noqa: BLE001 - shown as a reason, never raised
                        plan.reasons.append(f"the new timer of {_label(task)} cannot be evaluated on this case")
                        continue
                    if due <= now:
                        plan.effects.append(f"the timer {_label(task)} was due {due.isoformat()} under the new "
                                            "version: it fires at once")
                    else:
                        plan.effects.append(f"the timer {_label(task)} becomes due {due.isoformat()}")
    return plan


def migrate(workflow, old, new, mapping: dict[str, str]) -> None:
    """Move `workflow` onto `new` in place; call only after `check` found it movable."""
    started, aligned = {}, list(_workflows(workflow, old, new, mapping))
    for wf, alignment in aligned:
        for task in wf.get_tasks(state=TaskState.WAITING, skip_subprocesses=True):
            if task.task_spec in alignment.changed and (at := _timer_start(task)) is not None:
                started[task.id] = at
    for wf, alignment in aligned:
        spec_name = wf.spec.name
        resets = [t for t in wf.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)
                  if t.task_spec in alignment.changed]
        for task in wf.tasks.values():
            task.task_spec = alignment.pairs.get(task.task_spec) or alignment.start
        wf.spec = new.spec if wf is workflow else new.subprocess_specs[spec_name]
        for task in resets:
            if task.id not in wf.tasks:
                continue  # dropped by the reset of an ancestor's branch
            data = dict(task.data)
            task.reset_branch(data)
            at = started.get(task.id)
            definition = getattr(task.task_spec, "event_definition", None)
            if at is not None and isinstance(definition, ClockDuration):
                due = _duration_due(task, at, definition.expression)
                task._set_internal_data(event_value=due.isoformat())
                task.internal_data.pop("event_fired", None)
            elif isinstance(definition, ClockTimeDate) and task.state == TaskState.READY:
                # The reset re-read the date from the case's data and found it past: it waits again, due at
                # once, so the worker fires it (and records it) like any other due timer.
                task.internal_data.pop("event_fired", None)
                task.internal_data.pop("late_on_arrival", None)
                task._set_state(TaskState.WAITING)
        if wf.last_task is not None and wf.last_task.id not in wf.tasks:
            wf.last_task = None
    workflow.subprocess_specs = new.subprocess_specs
