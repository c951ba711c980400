"""Other seats' parts of a user task (engine.core.seats `part`): IFO's part of Västbas' bedömning, each HLT key
person's part of the meeting's decision. A part is done by whoever its role's seat reaches (of its agency, if it
names one); the task's own seat completes the task once every required part is done, and each part's data then
goes into the case data under the part's name, remembered as written by the part's agency."""
from __future__ import annotations

from sqlalchemy import select

from engine.access import audit
from engine.access.children import refuse_in_data
from engine.access.identity import Principal
from engine.access.policy import is_system
from engine.bpmn.runner import StepRecord
from engine.casework import forms
from engine.casework.suspension import refuse_if_suspended
from engine.core.errors import Conflict, InvalidInput, InvalidTransition, NotFound, Refused
from engine.core.models import Case, TaskPart, UserTask


def parts_of(session, task_id: str) -> list[TaskPart]:
    return list(session.scalars(select(TaskPart).where(TaskPart.task_id == task_id).order_by(TaskPart.id)))


def _who(part: TaskPart) -> str:
    return part.role + (f" of {part.agency}" if part.agency else "")


def do_part(tasks, principal: Principal, task_id: str, name: str, data: dict) -> list[dict]:
    """Do (or redo) the part `name` of an open task, validated against the part's form; the task's parts."""
    task = tasks._readable(principal, task_id)  # 404 to whoever may not know the case
    part = next((p for p in parts_of(tasks.session, task_id) if p.name == name), None)
    if part is None:
        raise NotFound(f"task {task_id} has no part {name}")
    access, clock = tasks.cases.access, tasks.cases.clock
    if not access.may_do_part(principal, task.case_id, part):
        audit.record_refused(tasks.session, clock, principal, task.case_id, f"part {name} of {task.element_id}")
        raise Refused(f"the part {name} of this task is for the role {_who(part)} in this case")
    if task.state != "open":
        raise InvalidTransition(f"task {task_id} is {task.state}")
    case = tasks.session.get(Case, task.case_id)
    refuse_if_suspended(case, "doing a task's part")
    refuse_in_data(data, clock)
    errors = forms.validate(tasks.forms_of(case.id), part.form_key, data)
    if errors:
        raise InvalidInput(f"the data does not match the form {part.form_key} of the part {name}", errors)
    now = clock.now()
    part.state, part.data, part.done_at = "done", data, now
    part.done_by, part.done_by_id, part.done_agency = principal.user, principal.ref, principal.agency
    access.join(principal, case.id, part.role, "task")
    case.updated_at = now
    tasks.cases.record_history(case, principal, now, StepRecord(
        "task_part_done", task.element_id, task.name, "UserTask", task.id, details={"part": name, "role": part.role}))
    audit.record(tasks.session, clock, principal, [case.id], "write", f"part {name} of {task.element_id}")
    tasks.session.flush()
    return shown(tasks, principal, task)


def shown(tasks, principal: Principal, task: UserTask) -> list[dict]:
    """The task's parts as `principal` may see them: a part's data only if they may see its agency's data."""
    case = tasks.session.get(Case, task.case_id)
    agencies = tasks.cases.access.visible_agencies(principal, case)
    access = tasks.cases.access
    return [{"name": p.name, "role": p.role, "agency": p.agency, "required": p.required, "form_key": p.form_key,
             "state": p.state, "done_by": p.done_by, "done_at": p.done_at,
             "data": p.data if agencies is None or p.done_agency in agencies else None,
             "yours": task.state == "open" and access.may_do_part(principal, task.case_id, p)}
            for p in parts_of(tasks.session, task.id)]


def gathered(tasks, principal: Principal, task: UserTask, declared) -> list[TaskPart]:
    """The done parts of a task about to be completed; Conflict naming a required part not yet done (internal
    actors, such as a simulation, whose people are nobody's, complete without them)."""
    if not declared.parts.get(task.element_id):  # no statement for the many tasks without parts
        return []
    parts = parts_of(tasks.session, task.id)
    missing = [p for p in parts if p.required and p.state != "done"]
    if missing and not is_system(principal):
        raise Conflict("the task waits for its required part " + ", ".join(f"{p.name} ({_who(p)})" for p in missing)
                       + f": POST /tasks/{task.id}/parts/{missing[0].name}")
    return [p for p in parts if p.state == "done"]


def with_parts(data: dict, done: list[TaskPart]) -> dict:
    """The completion's data with each done part's data under the part's name."""
    return {**data, **{p.name: p.data for p in done}}


def stamp_origins(case: Case, done: list[TaskPart]) -> None:
    """Each part's data key as written by the part's agency (consent decides who else sees it)."""
    if done:
        case.data_origin = {**(case.data_origin or {}), **{p.name: p.done_agency for p in done}}
