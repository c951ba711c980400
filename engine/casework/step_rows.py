"""The rows one step writes beside the case: its task rows, its timer rows and its history.

engine.casework.cases.CaseService.apply calls these in the step's transaction; they only add and flush.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from engine.access.identity import Principal
from engine.bpmn.runner import Snapshot, StepRecord
from engine.core.appends import Appends
from engine.core.clock import as_utc
from engine.core.errors import Conflict, InvalidTransition
from engine.core.models import Case, HistoryEntry, TaskPart, Timer, UserTask
from engine.integration import outbox

# The step's statements, built once: building and cache-keying a statement on every step costs about as much CPU
# as running it.
_TASKS = UserTask.__table__
# The take, written once: as text in the step's one statement (PostgreSQL), and run alone elsewhere with its moment
# bound through the column's type (SQLite keeps timestamps in SQLAlchemy's format).
_TAKE_SQL = ("UPDATE user_task SET state = 'completed', completed_at = :take_now, completed_by = :take_user, "
             "assignee = :take_user, assignee_id = :take_ref "
             "WHERE id = :take_id AND state = 'open' AND (assignee_id IS NULL OR assignee_id = :take_ref)")
_TAKE = text(_TAKE_SQL).bindparams(bindparam("take_now", type_=_TASKS.c.completed_at.type))
_OPEN_TASKS = select(UserTask).where(UserTask.case_id == bindparam("case_id"), UserTask.state == "open")
_TIMERS = select(Timer).where(Timer.case_id == bindparam("case_id"))
_DELETE_TIMERS = delete(Timer.__table__).where(Timer.__table__.c.id.in_(bindparam("ids", expanding=True)))
_DELETE_TIMERS_SQL = "DELETE FROM timer WHERE id IN (SELECT jsonb_array_elements_text(CAST(:gone_timers AS jsonb)))"
_HISTORY = HistoryEntry.__table__


def _any(_rows: int) -> None:
    """The old timers' DELETE needs no count: the step needs them gone, however many rows that was."""


def insert_later(session: Session, appends: Appends, row) -> None:
    """Queue a new row's INSERT with the step's append-only rows and keep it in the session as if it had been
    loaded: the ORM's unit of work for a task and a timer row costs more than the rest of the step's statements
    together (issue 19). Every column is given (its Python default, else None), so nothing is read back."""
    table = type(row).__table__
    values = {}
    for column in table.columns:
        value = getattr(row, column.key)
        if value is None and column.default is not None and column.default.is_scalar:
            value = column.default.arg
        setattr(row, column.key, value)  # set, even to None: an attribute left unset would be read back later
        values[column.key] = value
    appends.add(table, [values])
    make_transient_to_detached(row)
    session.add(row)


def sync_tasks(session: Session, appends: Appends, case: Case, snapshot: Snapshot, principal: Principal,
               now: datetime, declared, completed_task: str | None, open_tasks: list[UserTask] | None) -> list[UserTask]:
    """Bring the case's task rows (and their parts) in line with the step: created, cancelled, due, migrated; the
    `completed_task` taken and completed by `principal`. The case's open task rows after the step."""
    due = _due(snapshot)
    if open_tasks is None:
        open_tasks = session.scalars(_OPEN_TASKS, {"case_id": case.id})
    rows = {row.id: row for row in open_tasks}
    current = {t.id for t in snapshot.open_tasks}
    if completed_task is not None:
        take_completed(session, appends, rows.get(completed_task), completed_task, principal, now)
    for task_id, row in rows.items():
        if task_id not in current:
            if task_id != completed_task:
                row.state, row.completed_at = "cancelled", now
                snapshot.records.append(StepRecord("task_cancelled", row.element_id, row.name, "UserTask", row.id))
        else:
            # A fired non-interrupting deadline leaves its task open and still due when it was,
            # even when a later deadline of the same task is still waiting.
            if task_id in due and (row.due_at is None or as_utc(due[task_id]) < as_utc(row.due_at)):
                row.due_at = due[task_id]
    for task in snapshot.open_tasks:
        row = rows.get(task.id)
        if row is not None and row.element_id != task.element_id:  # migrated to a renamed element
            row.element_id, row.name, row.form_key = task.element_id, task.name, task.form_key
            row.candidate_group = task.candidate_group
    for task in snapshot.open_tasks:
        if task.id not in rows:
            created = UserTask(id=task.id, case_id=case.id, process_key=case.process_key,
                               element_id=task.element_id, name=task.name, candidate_group=task.candidate_group,
                               form_key=task.form_key,
                               seat=getattr(declared.seat(task.candidate_group), "kind", None),
                               state="open", due_at=due.get(task.id), created_at=now)
            if declared.parts.get(task.element_id):
                session.add(created)
                session.flush()  # the task row before its parts' (no ORM relationship orders them)
            else:
                insert_later(session, appends, created)
            for part in declared.parts.get(task.element_id, ()):  # other seats' parts of the task
                session.add(TaskPart(task_id=task.id, case_id=case.id, name=part.name, role=part.role,
                                          seat=getattr(declared.seat(part.role), "kind", None),
                                          agency=part.agency, required=part.required, form_key=part.form_key,
                                          state="open"))
            snapshot.records.append(StepRecord("task_created", task.element_id, task.name, "UserTask", task.id))
            rows[task.id] = created
    return sorted((row for row in rows.values() if row.state == "open"), key=lambda r: (r.created_at, r.id))


def take_completed(session: Session, appends: Appends, row: UserTask | None, task_id: str, principal: Principal,
                   now) -> None:
    """Mark the task completed by `principal` in one conditional UPDATE (with the step's other writes where they
    are one statement), if it is open and free or theirs; Conflict or InvalidTransition otherwise (a racer got
    there first)."""
    def check(taken: int) -> None:
        if taken == 1:
            return
        if row is None:
            raise InvalidTransition(f"task {task_id} is no longer open")
        session.refresh(row)
        if row.state != "open":
            raise InvalidTransition(f"task {task_id} is {row.state}")
        raise Conflict(f"task {task_id} is claimed by {row.assignee}")

    appends.change(session, _TAKE, {"take_id": task_id, "take_ref": principal.ref, "take_now": now,
                                    "take_user": principal.user}, check, _TAKE_SQL)
    if row is not None:  # what the UPDATE writes, without writing it again
        for name, value in (("state", "completed"), ("completed_at", now), ("completed_by", principal.user),
                            ("assignee", principal.user), ("assignee_id", principal.ref)):
            set_committed_value(row, name, value)


def sync_timers(session: Session, appends: Appends, case: Case, snapshot: Snapshot,
                loaded: list[Timer] | None = None) -> None:
    """Bring the case's timer rows (`loaded`, if the caller has just read them) in line with the step's timers."""
    rows = {row.id: row for row in (session.scalars(_TIMERS, {"case_id": case.id}) if loaded is None else loaded)}
    current = {t.id: t for t in snapshot.timers}
    gone = [row for timer_id, row in rows.items() if timer_id not in current]
    if gone:  # Core, and the rows out of the session: no unit of work for a delete by key
        ids = [row.id for row in gone]
        appends.change(session, _DELETE_TIMERS, {"ids": ids, "gone_timers": json.dumps(ids)}, _any, _DELETE_TIMERS_SQL)
        for row in gone:
            session.expunge(row)
    for timer_id, timer in current.items():
        row = rows.get(timer_id)
        if row is None:
            insert_later(session, appends, Timer(id=timer.id, case_id=case.id, process_key=case.process_key,
                                   element_id=timer.element_id, name=timer.name, kind=timer.kind,
                                   effect=timer.effect, leads_to=timer.leads_to, expression=timer.expression,
                                   repeats=timer.repeats, attached_to=timer.attached_to,
                                   interrupting=timer.interrupting, due_at=timer.due_at, fire_at=timer.due_at,
                                   attempts=0))
        elif row.due_at != timer.due_at:  # a cycle moved on to its next period, or a migration re-derived it
            row.due_at = row.fire_at = timer.due_at
            row.attempts, row.last_error = 0, None
        if row is not None and (row.expression, row.element_id) != (timer.expression, timer.element_id):
            row.expression, row.element_id, row.name = timer.expression, timer.element_id, timer.name
            row.leads_to, row.effect = timer.leads_to, timer.effect


def write_histories(session: Session, appends: Appends, case: Case, principal: Principal, now,
                    records: list[StepRecord]) -> None:
    """`write_history` for the records of one step, queued with its other append-only rows (engine.core.appends:
    no ORM unit of work, and rows the ORM holds are written first, so history keeps its order)."""
    if not records:
        return
    appends.add(_HISTORY, [
        {"case_id": case.id, "at": now, "event": r.event, "element_id": r.element_id, "element_name": r.element_name,
         "element_type": r.element_type, "task_id": r.task_id, "actor_user": principal.user,
         "actor_agency": principal.agency, "actor_roles": sorted(principal.roles), "data_changes": r.data_changes,
         "details": r.details} for r in records])
    outbox.emit_all(session, appends, case, now, records)


def write_history(session: Session, case: Case, principal: Principal, now, record: StepRecord) -> None:
    """One history row for `case`, and its events in the outbox, in the caller's transaction."""
    session.add(HistoryEntry(case_id=case.id, at=now, event=record.event, element_id=record.element_id,
                             element_name=record.element_name, element_type=record.element_type,
                             task_id=record.task_id, actor_user=principal.user, actor_agency=principal.agency,
                             actor_roles=sorted(principal.roles), data_changes=record.data_changes,
                             details=record.details))
    outbox.emit(session, case, now, record.event, record)


def _due(snapshot: Snapshot) -> dict:
    """When each of the step's open tasks is due: its earliest deadline timer, or a deadline already missed."""
    due = {}
    for timer in snapshot.timers:
        if timer.attached_to and (timer.attached_to not in due or timer.due_at < due[timer.attached_to]):
            due[timer.attached_to] = timer.due_at
    for record in snapshot.records:  # a deadline that was already past when its task opened
        if record.event == "deadline_missed" and record.task_id and record.details:
            missed = datetime.fromisoformat(record.details["due_at"])
            if record.task_id not in due or missed < due[record.task_id]:
                due[record.task_id] = missed
    return due
