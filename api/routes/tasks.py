"""User tasks: list, read (with form), claim, unclaim, complete."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from ..deps import PrincipalDep, StepDep, TasksDep
from ..schemas import Page, TaskComplete, TaskCompleted, TaskDetail, TaskOut, TaskPartOut

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("", response_model=Page[TaskOut])
async def list_tasks(tasks: TasksDep, principal: PrincipalDep, step: StepDep, case_id: str | None = None, process_key: str | None = None,
               candidate_group: str | None = None, assignee: str | None = None, due_before: datetime | None = None,
               due_after: datetime | None = None, state: Literal["open", "completed", "cancelled"] = "open",
               sort: Literal["created_at", "-created_at", "due_at", "-due_at"] = "created_at",
               cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50):
    """The tasks you may act on (your roles, in your cases or with the role's seat open), filtered by case, process, candidate group (lane role), assignee and due date (`due_before`,
    `due_after`); sorted by `created_at` or `due_at` (tasks without a due date are left out), `-` for descending."""
    page = await step(tasks.list, principal, case_id=case_id, process_key=process_key, candidate_group=candidate_group, assignee=assignee,
                      due_before=due_before, due_after=due_after, state=state, sort=sort, cursor=cursor, limit=limit)
    return Page[TaskOut](items=[TaskOut.model_validate(t) for t in page.items], next_cursor=page.next_cursor)


@router.get("/{task_id}", response_model=TaskDetail)
async def get_task(task_id: str, tasks: TasksDep, principal: PrincipalDep, step: StepDep):
    """One task, with the JSON Schema of its form when the BPMN declares one (camunda:formKey), and the parts
    other seats do (the task's `part` properties: IFO's part of Västbas' bedömning)."""
    def detail() -> TaskDetail:
        task = tasks.get(principal, task_id)
        schema, ui = tasks.form(task)
        return TaskDetail(**TaskOut.model_validate(task).model_dump(), form=schema, ui_schema=ui,
                          parts=tasks.parts(principal, task))
    return await step(detail)


@router.post("/{task_id}/parts/{name}", response_model=list[TaskPartOut])
def do_task_part(task_id: str, name: str, body: TaskComplete, tasks: TasksDep, principal: PrincipalDep):
    """Do (or redo) your seat's part `name` of an open task, with data validated against the part's form (422
    per field). A part is for the role its `part` property names, as that role's lane seats people (of one
    agency, if it names one): 403 to someone in the case whose role it is not. The task's own seat completes
    the task; until every required part is done, completing it answers 409 naming the part. Answers the parts."""
    return tasks.do_part(principal, task_id, name, body.data)


@router.post("/{task_id}/claim", response_model=TaskOut)
async def claim_task(task_id: str, tasks: TasksDep, principal: PrincipalDep, step: StepDep):
    """Claim an open task for yourself (you must hold its lane's role)."""
    return TaskOut.model_validate(await step(tasks.claim, principal, task_id))


@router.post("/{task_id}/unclaim", response_model=TaskOut)
async def unclaim_task(task_id: str, tasks: TasksDep, principal: PrincipalDep, step: StepDep):
    """Give back a task you have claimed."""
    return TaskOut.model_validate(await step(tasks.unclaim, principal, task_id))


@router.post("/{task_id}/complete", response_model=TaskCompleted)
async def complete_task(task_id: str, body: TaskComplete, tasks: TasksDep, principal: PrincipalDep, step: StepDep):
    """Complete an open task with data; the case runs on to its next wait state.

    The data is validated against the task's form (422 per field); a concurrent change
    to the same case answers 409 and nothing is applied. The answer is the completed task with
    `open_tasks`: the case's open tasks you may act on now, so one request is one step."""
    done = await step(tasks.complete, principal, task_id, body.data)
    answer = TaskCompleted.model_validate({**TaskOut.model_validate(done.task).__dict__,
                                           "open_tasks": [TaskOut.model_validate(t) for t in done.open_tasks]})
    # Validated once here and written as JSON by pydantic-core: returned as a model, FastAPI would validate it
    # again against the response model, in one more worker-thread hop, and then encode it a second time.
    return Response(answer.model_dump_json(), media_type="application/json")
