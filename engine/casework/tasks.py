"""User tasks: list, claim, unclaim and complete, with the lane's role checked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from engine.access import audit
from engine.access.children import refuse_in_data
from engine.access.identity import Principal
from engine.access.policy import PARTICIPANT_ROLE, is_system, require_caseworker
from engine.bpmn.runner import StepRecord
from engine.casework import forms, seats, task_parts
from engine.casework.cases import CaseService
from engine.casework.scoring import ScoringSettings
from engine.casework.suspension import refuse_if_suspended
from engine.core.errors import Conflict, InvalidInput, InvalidTransition, NotFound, Refused
from engine.core.models import Case, CaseParticipant, Timer, UserTask, WebhookSubscription
from engine.integration import outbox
from engine.core.paging import Page, keyset_page
from engine.core.roles import role_id


# What a completion reads, in one statement built once (not per step): the task, its case, the case's open tasks
# and timers, the roles the caller holds in it, and whether any webhook subscription is active. Each statement
# costs about half a millisecond of CPU, as much as a twentieth of the step (issue 19): the join's few extra rows
# (open tasks x timers x roles, a handful) cost far less than four round trips.
_OF_CASE = select(UserTask.case_id).where(UserTask.id == bindparam("task_id")).scalar_subquery()
_STEP_ROWS = (
    select(UserTask, Case, Timer, CaseParticipant.role,
           exists().where(WebhookSubscription.active.is_(True)).label("subscribed"))
    .join(Case, Case.id == UserTask.case_id)
    .outerjoin(Timer, Timer.case_id == UserTask.case_id)
    .outerjoin(CaseParticipant, and_(CaseParticipant.case_id == UserTask.case_id,
                                     CaseParticipant.issuer == bindparam("issuer"),
                                     CaseParticipant.subject == bindparam("subject")))
    .where(or_(UserTask.id == bindparam("task_id"), and_(UserTask.case_id == _OF_CASE, UserTask.state == "open"))))


class TaskService:
    """Domain operations on user tasks; every change also bumps the case's version."""

    def __init__(self, cases: CaseService, forms_dir: Path = forms.FORMS_DIR,
                 scoring_settings: ScoringSettings | None = None):
        self.cases = cases
        self.session = cases.session
        self.forms_dir = forms_dir
        self.scoring = scoring_settings or ScoringSettings()

    def list(self, principal: Principal, *, case_id: str | None = None, process_key: str | None = None,
             candidate_group: str | None = None, assignee: str | None = None, due_before: datetime | None = None,
             due_after: datetime | None = None, state: str = "open", sort: str = "created_at",
             cursor: str | None = None, limit: int = 50) -> Page:
        """The tasks `principal` may act on, by filter; `sort` is created_at or due_at (tasks without a due date
        left out), `-` for newest first. Each case a returned task belongs to is logged as read."""
        require_caseworker(principal)
        query = self.cases.access.actionable_tasks(select(UserTask).where(UserTask.state == state), principal)
        if case_id:
            query = query.where(UserTask.case_id == case_id)
        if process_key:
            query = query.where(UserTask.process_key == process_key)
        if candidate_group:
            query = query.where(UserTask.candidate_group == role_id(candidate_group))
        if assignee:
            query = query.where(UserTask.assignee == assignee)
        if due_before:
            query = query.where(UserTask.due_at < due_before)
        if due_after:
            query = query.where(UserTask.due_at >= due_after)
        column = UserTask.due_at if sort.lstrip("-") == "due_at" else UserTask.created_at
        if column is UserTask.due_at:
            query = query.where(UserTask.due_at.is_not(None))
        page = keyset_page(self.session, query, column, UserTask.id, cursor, limit, sort.startswith("-"))
        audit.record(self.session, self.cases.clock, principal, [t.case_id for t in page.items], "read", "task list")
        return page

    def _readable(self, principal: Principal, task_id: str) -> UserTask:
        task = self.session.get(UserTask, task_id)
        if task is None:
            raise NotFound(f"no task with id {task_id}")
        if not self.cases.access.may_read(principal, task.case_id):
            audit.record_refused(self.session, self.cases.clock, principal, task.case_id, f"task {task.element_id}")
            raise NotFound(f"no task with id {task_id}")
        return task

    def get(self, principal: Principal, task_id: str, what: str = "task") -> UserTask:
        """A task of a case `principal` may read (NotFound otherwise); the read is logged."""
        task = self._readable(principal, task_id)
        audit.record(self.session, self.cases.clock, principal, [task.case_id], "read", what)
        return task

    def forms_of(self, case_id: str) -> forms.FormSet:
        """The forms deployed with the case's process version (a running case keeps its version's forms)."""
        return self.cases.forms_for(self.cases.version_of(self.session.get(Case, case_id)), self.forms_dir)

    def form(self, task: UserTask) -> tuple[dict | None, dict | None]:
        return self.forms_of(task.case_id).form(task.form_key)

    def _open_for(self, principal: Principal, task_id: str) -> UserTask:
        task = self._readable(principal, task_id)
        if not self.cases.access.may_act(principal, task.case_id, task.candidate_group, task.seat):
            audit.record_refused(self.session, self.cases.clock, principal, task.case_id, f"act on {task.element_id}")
            raise Refused(f"task {task_id} is for the role {task.candidate_group} in this case"
                          if task.candidate_group else f"task {task_id} is for the case's participants")
        if task.state != "open":
            raise InvalidTransition(f"task {task_id} is {task.state}")
        return task

    def do_part(self, principal: Principal, task_id: str, name: str, data: dict) -> list:
        """Do the part `name` of an open task, as the part's seat (engine.casework.task_parts)."""
        return task_parts.do_part(self, principal, task_id, name, data)

    def parts(self, principal: Principal, task: UserTask) -> list[dict]:
        """The task's parts as `principal` may see them (another agency's data only under consent)."""
        return task_parts.shown(self, principal, task)

    def _touch(self, task: UserTask, principal: Principal, event: str) -> None:
        case = self.cases.load(task.case_id)
        case.updated_at = self.cases.clock.now()
        self.cases.record_history(case, principal, case.updated_at,
                                  StepRecord(event, task.element_id, task.name, "UserTask", task.id))
        audit.record(self.session, self.cases.clock, principal, [case.id], "write", event)
        self.session.flush()

    def _take(self, principal: Principal, task: UserTask) -> None:
        """Make `principal` the task's assignee if it is open and free or theirs, in one conditional UPDATE: a
        racer who read the task before this commits waits on its row and then finds it taken (a Conflict)."""
        taken = self.session.execute(
            update(UserTask).where(UserTask.id == task.id, UserTask.state == "open",
                                   or_(UserTask.assignee_id.is_(None), UserTask.assignee_id == principal.ref))
            .values(assignee=principal.user, assignee_id=principal.ref).execution_options(synchronize_session=False))
        if taken.rowcount != 1:
            self.session.refresh(task)
            if task.state != "open":
                raise InvalidTransition(f"task {task.id} is {task.state}")
            raise Conflict(f"task {task.id} is claimed by {task.assignee}")
        set_committed_value(task, "assignee", principal.user)  # what the UPDATE wrote, without writing it again
        set_committed_value(task, "assignee_id", principal.ref)

    def claim(self, principal: Principal, task_id: str) -> UserTask:
        task = self._open_for(principal, task_id)
        if task.assignee_id and task.assignee_id != principal.ref:
            raise Conflict(f"task {task_id} is claimed by {task.assignee}")
        self._take(principal, task)
        self.cases.access.join(principal, task.case_id, task.candidate_group or PARTICIPANT_ROLE, "task")
        self._touch(task, principal, "task_claimed")
        return task

    def unclaim(self, principal: Principal, task_id: str) -> UserTask:
        task = self._open_for(principal, task_id)
        if task.assignee_id != principal.ref:
            raise Conflict(f"task {task_id} is not claimed by you")
        task.assignee = task.assignee_id = None
        self._touch(task, principal, "task_unclaimed")
        return task

    def complete(self, principal: Principal, task_id: str, data: dict) -> Completed:
        """Validate `data` against the task's form, complete it and run the case to its next wait; with the
        case's open tasks the caller may act on now."""
        # One statement (_STEP_ROWS); the checks below find what it read in the session and its caches.
        loaded = self.session.execute(_STEP_ROWS, {"task_id": task_id, "issuer": principal.key[0],
                                                   "subject": principal.key[1]}).all()
        open_before = list({row.id: row for row, *_ in loaded if row.state == "open"}.values())
        timers = list({timer.id: timer for _, _, timer, *_ in loaded if timer is not None}.values())
        if loaded:
            self.cases.access.known_roles(loaded[0][0].case_id, principal.key, {role for *_, role, _ in loaded if role})
            if not loaded[0].subscribed:
                outbox.none_active(self.session)
        task = self._open_for(principal, task_id)
        if task.assignee_id and task.assignee_id != principal.ref:
            raise Conflict(f"task {task_id} is claimed by {task.assignee}")
        case = self.session.get(Case, task.case_id)
        refuse_if_suspended(case, "completing a task")
        refuse_in_data(data, self.cases.clock)
        form_set = self.forms_of(case.id)
        errors = forms.validate(form_set, task.form_key, data)
        if errors:
            raise InvalidInput(f"uppgifterna stämmer inte med formuläret {task.form_key}", errors)
        data = {**data, **forms.scores(form_set, task.form_key, data, self.scoring)}
        done_parts = task_parts.gathered(self, principal, task, self.cases.spec_for(
            self.cases.version_of(case)).declared)
        data = task_parts.with_parts(data, done_parts)
        appointed = seats.Seats(self.cases).appointments(case, task.element_id, data,  # 422 before any change
                                                         strict=not is_system(principal))
        workflow = self.cases.workflow_of(case)
        snapshot = self.cases.runner.complete(workflow, task_id, data)
        self.cases.access.join(principal, task.case_id, task.candidate_group or PARTICIPANT_ROLE, "task")
        # The task is taken in the step's own conditional UPDATE (engine.casework.cases): a claim that won the
        # race makes it a Conflict, and one that comes later waits on the row and then finds it completed.
        open_rows = self.cases.apply(case, snapshot, principal, completed_task=task_id, open_tasks=open_before,
                                     timers=timers)
        task_parts.stamp_origins(case, done_parts)
        if appointed:
            seats.Seats(self.cases).appoint(principal, case, task.element_id, appointed)
        access = self.cases.access
        return Completed(task, [row for row in open_rows
                                if access.may_act(principal, case.id, row.candidate_group, row.seat)])


@dataclass
class Completed:
    """A completed task and the open tasks of its case that the completer may act on now."""

    task: UserTask
    open_tasks: list[UserTask]
