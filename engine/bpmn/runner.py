"""The runner: drives SpiffWorkflow workflows and reads plain facts back out of them.

Everything that touches SpiffWorkflow's runtime objects lives here; the services
above it see only plain dataclasses (open tasks, timers, history records).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import migration, serializer
from engine.bpmn.budget import Budget, EngineMeter, find_budget_error
from engine.bpmn.compaction import compact
from engine.bpmn.failures import Incident, capture, check_decision, failing_task
from engine.bpmn.migration import Plan
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.specs import CachedSpec, candidate_group
from engine.bpmn.timer_events import next_period
from engine.core.clock import Clock
from engine.core.errors import FieldError, InvalidInput, InvalidTransition, NotFound


@dataclass
class StepRecord:
    """One element the engine passed, for the case history."""

    event: str
    element_id: str | None
    element_name: str | None
    element_type: str | None
    task_id: str | None = None
    data_changes: dict | None = None
    details: dict | None = None


@dataclass
class OpenTask:
    id: str
    element_id: str
    name: str
    candidate_group: str | None
    form_key: str | None


@dataclass
class PendingTimer:
    id: str
    element_id: str
    name: str
    due_at: datetime
    attached_to: str | None
    interrupting: bool
    kind: str = "intermediate"
    effect: str = "continues"
    leads_to: list[str] = field(default_factory=list)
    expression: str = ""
    repeats: bool = False
    cycle: dict | None = None  # a repeating timer's period bookkeeping, to count the periods it fired
    attached_element: tuple[str, str] | None = None  # (id, name) of the activity a boundary timer sits on


@dataclass
class Snapshot:
    """What the database keeps of a workflow after a step."""

    completed: bool
    data: dict
    open_tasks: list[OpenTask]
    timers: list[PendingTimer]
    state: str
    records: list[StepRecord] = field(default_factory=list)
    incident: Incident | None = None  # the element the engine stopped at because it failed, if it did
    ran: bool = True  # False for changes that run no element (a data correction, a migration)


def _changes(before: dict, after: dict) -> dict | None:
    changed = {k: v for k, v in after.items() if k not in before or before[k] != v}
    removed = [k for k in before if k not in after]
    if not changed and not removed:
        return None
    return {"set": changed, **({"removed": removed} if removed else {})}


def _element_error(exc: SpiffWorkflowException) -> InvalidInput:
    task = getattr(exc, "task", None)
    element = task.task_spec.bpmn_id if task is not None else getattr(exc, "task_id", None)
    over = find_budget_error(exc)
    if over is not None:  # a distinct failure: the model went beyond its budget (issue-18 records it as such)
        return over.at(element)
    message = str(exc).split("\n")[0]
    return InvalidInput(f"the process could not continue at {element}: {message}",
                        [FieldError(f"process/{element}", message, element=element)])


class Runner:
    """Starts, loads, advances and snapshots workflows with the safe script engine and the engine clock."""

    def __init__(self, clock: Clock, compact_state: bool = True, budget: Budget | None = None):
        self.clock = clock
        self.budget = budget or Budget.from_settings()
        self.script_engine = SafeScriptEngine(clock, self.budget)
        self.compact_state = compact_state  # off only to compare against the library's unpruned behaviour

    def start(self, cached: CachedSpec, data: dict) -> Snapshot:
        workflow = BpmnWorkflow(cached.spec, cached.subprocess_specs, script_engine=self.script_engine)
        workflow.task_tree.data.update(copy.deepcopy(data))
        start = workflow.get_tasks(state=TaskState.READY)
        for task in start:
            task.data.update(copy.deepcopy(data))
        records: list[StepRecord] = []
        incident = self._advance(workflow, records)
        return self.snapshot(workflow, records, incident)

    def load(self, cached: CachedSpec, state: str) -> BpmnWorkflow:
        return serializer.loads(state, cached.spec, cached.subprocess_specs, self.script_engine)

    def complete(self, workflow: BpmnWorkflow, task_id: str, data: dict) -> Snapshot:
        """Complete a ready user task with `data` and run the engine to the next wait state."""
        task = self._user_task(workflow, task_id)
        before = task.data
        task.data = {**copy.deepcopy(before), **copy.deepcopy(data)}
        records = [StepRecord("task_completed", task.task_spec.bpmn_id, task.task_spec.bpmn_name,
                              type(task.task_spec).__name__, str(task.id), _changes(before, task.data))]
        try:
            task.run()
        except SpiffWorkflowException as exc:
            raise _element_error(exc) from None
        incident = self._advance(workflow, records)
        return self.snapshot(workflow, records, incident)

    def retry(self, workflow: BpmnWorkflow) -> Snapshot:
        """Run the engine on from where it stopped (the element an incident is at runs again)."""
        records: list[StepRecord] = []
        incident = self._advance(workflow, records)
        return self.snapshot(workflow, records, incident)

    def correct(self, workflow: BpmnWorkflow, task_id: str, changes: dict, removed: list[str]) -> Snapshot:
        """Change the data the failed element `task_id` will run on again (no engine step is taken)."""
        task = failing_task(workflow, task_id)
        if task is None:
            raise InvalidTransition("the case is no longer at the element that failed")
        before = copy.deepcopy(task.data)
        task.data.update(copy.deepcopy(changes))
        for key in removed:
            task.data.pop(key, None)
        spec = task.task_spec
        record = StepRecord("data_corrected", spec.bpmn_id, spec.bpmn_name, type(spec).__name__, str(task.id),
                            _changes(before, task.data))
        snapshot = self.snapshot(workflow, [record])
        snapshot.ran = False
        return snapshot

    def plan_migration(self, old: CachedSpec, new: CachedSpec, state: str, mapping: dict[str, str]) -> Plan:
        """Whether a case's state can move from version `old` to `new` under `mapping`, and what that would do."""
        return migration.check(self.load(old, state), old, new, mapping, self.clock.now())

    def migrate(self, old: CachedSpec, new: CachedSpec, state: str,
                mapping: dict[str, str]) -> tuple[Plan, Snapshot | None]:
        """The case's state moved onto `new` (None if it cannot move: see the plan's reasons)."""
        workflow = self.load(old, state)
        plan = migration.check(workflow, old, new, mapping, self.clock.now())
        if not plan.movable:
            return plan, None
        migration.migrate(workflow, old, new, mapping)
        if self.compact_state:
            compact(workflow)
        snapshot = self.snapshot(workflow, [])
        snapshot.ran = False
        return plan, snapshot

    def refresh(self, workflow: BpmnWorkflow) -> Snapshot:
        """Fire whatever timers are due by the engine clock and run on; each firing is a `timer_fired` record."""
        now = self.clock.now()
        due = [t for t in self.timers(workflow) if t.due_at <= now]
        records: list[StepRecord] = []
        try:
            workflow.refresh_timers()
        except SpiffWorkflowException as exc:
            raise _element_error(exc) from None
        incident = self._advance(workflow, records)
        snapshot = self.snapshot(workflow, records, incident)
        still = {t.id: t.due_at for t in snapshot.timers}
        # A timer fired if it is gone or, a cycle, has moved on: once for every period it stepped past.
        fired = []
        for timer in due:
            moved_to = still.get(timer.id)
            if moved_to == timer.due_at:
                continue
            if moved_to is None or not timer.cycle:
                fired.append(timer)
                continue
            period_due = timer.due_at
            while period_due < moved_to and period_due <= now and len(fired) <= self.budget.engine_steps:
                fired.append(replace(timer, due_at=period_due))
                period_due = next_period(period_due, timer.cycle)
        snapshot.records[:0] = [_fired_record(t, now) for t in sorted(fired, key=lambda t: t.due_at)]
        return snapshot

    def timers(self, workflow: BpmnWorkflow) -> list[PendingTimer]:
        """The workflow's waiting timers with their due times."""
        return [timer for t in _tasks(workflow, TaskState.WAITING) if (timer := _pending_timer(t)) is not None]

    def deliver(self, cached: CachedSpec, workflow: BpmnWorkflow, name: str, payload: dict) -> Snapshot:
        """Deliver message `name` to the case; an interrupting event subprocess it starts ends all else."""
        definition = cached.messages.get(name)
        if definition is None:
            raise NotFound(f"the process has no message {name}")
        before = {t.id: t.state for t in _active(workflow)}
        try:
            workflow.catch(BpmnEvent(definition, {"payload": copy.deepcopy(payload), "result_var": name}))
        except SpiffWorkflowException as exc:
            raise _element_error(exc) from None
        records = [StepRecord("message_received", None, name, "Message", data_changes={"set": {name: payload}},
                              details={"message": name})]
        incident = self._advance(workflow, records)
        if incident is not None:
            return self.snapshot(workflow, records, incident)
        after = _active(workflow)
        # An event subprocess's own task may already be active before its event comes (the library
        # leaves it STARTED once the spec has run one), so "started" also means: new work inside it.
        inside = {getattr(t.workflow, "parent_task_id", None) for t in after if t.id not in before}
        started = [t for t in after if t.workflow is workflow and t.task_spec.bpmn_id in cached.interrupting
                   and (t.id not in before or t.id in inside)]
        if not started and {t.id: t.state for t in after} == before:
            raise InvalidTransition(f"no part of this case is waiting for the message {name}")
        for subprocess_task in started:
            self._interrupt(workflow, subprocess_task)
        incident = self._advance(workflow, records)
        return self.snapshot(workflow, records, incident)

    @staticmethod
    def _interrupt(workflow: BpmnWorkflow, subprocess_task) -> None:
        # SpiffWorkflow 3.2 starts an interrupting event subprocess without ending the rest of the
        # process; BPMN says everything else stops, so cancel every other active path here.
        keep = set()
        task = subprocess_task
        while task is not None:
            keep.add(task.id)
            task = task.parent
        for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            if task.id not in keep and task.workflow is workflow and not task.has_state(TaskState.FINISHED_MASK):
                task.cancel()

    def cancel(self, workflow: BpmnWorkflow) -> Snapshot:
        workflow.cancel()
        return self.snapshot(workflow, [StepRecord("case_cancelled", None, None, None)])

    def _user_task(self, workflow: BpmnWorkflow, task_id: str):
        try:
            task = workflow.get_task_from_id(UUID(task_id))
        except (ValueError, TaskNotFoundException):
            task = None
        if task is None:
            raise NotFound(f"task {task_id} is not part of this case")
        if not task.task_spec.manual or task.state != TaskState.READY:
            raise InvalidTransition(f"task {task_id} is not open")
        return task

    def _advance(self, workflow: BpmnWorkflow, records: list[StepRecord]) -> Incident | None:
        """Run engine steps to the next wait; an element that fails stops the run as an Incident (any error type:
        the library's, an evaluation budget, a decision without a rule), with everything before it kept."""
        scripts_before: dict[UUID, dict] = {}
        running: list = [None, None]  # the task being run and its data before, to put back if it fails
        meter = EngineMeter(self.budget)

        def will_complete(task):
            running[:] = [task, copy.deepcopy(task.data)]
            meter.step(task.task_spec.bpmn_id)
            check_decision(task)
            if isinstance(task.task_spec, ScriptTask) or hasattr(task.task_spec, "dmnEngine"):
                scripts_before[task.id] = copy.deepcopy(task.data)

        def did_complete(task):
            spec = task.task_spec
            if spec.bpmn_id is None:
                return
            running[:] = [None, None]
            before = scripts_before.pop(task.id, None)
            changes = _changes(before, task.data) if before is not None else None
            if isinstance(spec, BoundaryEvent) and task._get_internal_data("late_on_arrival"):
                records.extend(_late_on_arrival(task, self.clock.now()))
            records.append(StepRecord("element_completed", spec.bpmn_id, spec.bpmn_name,
                                      type(spec).__name__, str(task.id), changes))

        incident = None
        try:
            workflow.do_engine_steps(will_complete_task=will_complete, did_complete_task=did_complete)
        except Exception as exc:  # noqa: BLE001 - every run-time failure of an element is an incident
            incident = capture(exc, workflow, *running)
            if (over := find_budget_error(exc)) is not None:  # say which limit, in the words the budget uses
                incident = replace(incident, error=f"{over.reason} (limit: {over.rule})", error_type="BudgetExceeded")
            records.append(StepRecord("incident_raised", incident.element_id, incident.element_name,
                                      incident.element_type, incident.task_id,
                                      details={"error": incident.error, "error_type": incident.error_type}))
        for event in workflow.get_events():  # messages no part of this process catches: the engine's to handle
            payload = event.payload.get("payload") if isinstance(event.payload, dict) else event.payload
            records.append(StepRecord("message_sent", None, event.event_definition.name, "Message",
                                      details={"message": event.event_definition.name, "payload": payload}))
        if self.compact_state:
            compact(workflow)
        return incident

    def snapshot(self, workflow: BpmnWorkflow, records: list[StepRecord], incident: Incident | None = None) -> Snapshot:
        ready = _tasks(workflow, TaskState.READY, manual=True)
        open_tasks = [OpenTask(str(t.id), t.task_spec.bpmn_id, t.task_spec.bpmn_name or t.task_spec.bpmn_id,
                               candidate_group(t.task_spec.lane), _form_key(t.task_spec)) for t in ready]
        timers = self.timers(workflow)
        completed = workflow.is_completed()
        data = dict(workflow.last_task.data) if workflow.last_task is not None else {}
        for task in ready:
            data.update(task.data)
        if completed:
            data.update({k: v for k, v in workflow.data.items() if k != "data_objects"})
        return Snapshot(completed, data, open_tasks, timers, serializer.dumps(workflow), records, incident)


def _form_key(spec) -> str | None:
    form = getattr(spec, "form", None)
    return getattr(form, "key", None) or None


def _tasks(workflow: BpmnWorkflow, state: int, **filters) -> list:
    """Tasks in `state` in the workflow and its subprocesses, each once (the library's walk may see some twice)."""
    found: dict = {}
    for wf in [workflow, *workflow.subprocesses.values()]:
        for task in wf.get_tasks(state=state, **filters):
            found.setdefault(task.id, task)
    return list(found.values())


def _active(workflow: BpmnWorkflow) -> list:
    return _tasks(workflow, TaskState.READY | TaskState.WAITING | TaskState.STARTED)


def _fired_record(timer: PendingTimer, now: datetime) -> StepRecord:
    details = {"timer_id": timer.id, "due_at": timer.due_at.isoformat(),
               "lag_seconds": round((now - timer.due_at).total_seconds(), 3), "effect": timer.effect,
               "attached_to": timer.attached_to, "repeats": timer.repeats}
    if timer.attached_element:
        details["attached_element"], details["attached_name"] = timer.attached_element
    return StepRecord("timer_fired", timer.element_id, timer.name, "TimerEvent", timer.id, details=details)


def _late_on_arrival(task, now: datetime) -> list[StepRecord]:
    """A deadline already past when its task opened: fired at once, recorded as the worker records a firing."""
    timer = _pending_timer(task)
    if timer is None:
        return []
    records = [_fired_record(timer, now)]
    if timer.attached_element and not timer.repeats:
        records.append(StepRecord("deadline_missed", timer.attached_element[0], timer.attached_element[1], None,
                                  timer.attached_to, details={"due_at": timer.due_at.isoformat(),
                                                              "timer": timer.element_id}))
    return records


def _timer_expression(definition: TimerEventDefinition) -> str:
    return (definition.expression or "").strip().strip("\"'")


def _pending_timer(task) -> PendingTimer | None:
    spec = task.task_spec
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):  # an event-based gateway waiting on a timer among others
        definition = next((d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)), None)
        spec = next((o for o in spec.outputs if definition is not None and o.bpmn_name == definition.name), spec)
    if not isinstance(definition, TimerEventDefinition):
        return None
    value = task._get_internal_data("event_value")
    cycle = value if isinstance(value, dict) else None
    if cycle is not None:
        # A counted cycle that has fired its count keeps a `next` it will never fire at: nothing is pending.
        value = cycle.get("next") if cycle.get("cycles") != 0 else None
    if not value:
        return None
    try:
        due = TimerEventDefinition.get_datetime(value)
    except ValueError:
        return None
    attached_to, attached_element, interrupting, kind, effect = None, None, False, "intermediate", "continues"
    if isinstance(spec, BoundaryEvent) and isinstance(task.parent.task_spec, BoundaryEventSplit):
        main = [c for c in task.parent.children if not isinstance(c.task_spec, BoundaryEvent)]
        attached_to = str(main[0].id) if main else None
        if main:
            attached_element = (main[0].task_spec.bpmn_id, main[0].task_spec.bpmn_name or main[0].task_spec.bpmn_id)
        interrupting = bool(spec.cancel_activity)
        kind, effect = "boundary", "interrupts_task" if interrupting else "runs_alongside_task"
    elif isinstance(spec, StartEvent) and task.workflow is not task.workflow.top_workflow:
        interrupting = bool(getattr(spec, "interrupting", False))  # set by engine.parser
        kind, effect = "event_subprocess", "interrupts_process" if interrupting else "runs_alongside_process"
    leads_to = [o.bpmn_name or o.bpmn_id for o in spec.outputs if o.bpmn_id]
    return PendingTimer(str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, due, attached_to, interrupting,
                        kind, effect, leads_to, _timer_expression(definition),
                        isinstance(definition, CycleTimerEventDefinition), cycle, attached_element)
