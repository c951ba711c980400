"""Cases (ärenden): start, read, list, cancel, and persist every step with its history."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import audit, consent
from engine.access.children import ChildRegistry, refuse_in_data
from engine.access.identity import Principal
from engine.access.policy import (PARTICIPANT_ROLE, CaseAccess, acts_in_cases, has_scope, is_client, is_system,
                                  require_caseworker)
from engine.bpmn.runner import Runner, Snapshot, StepRecord
from engine.bpmn.serializer import SERIALIZER_VERSION
from engine.bpmn.specs import CachedSpec, SpecCache
from engine.casework import correlation, deployments, forms, seats
from engine.core.clock import Clock
from engine.core.errors import FieldError, InvalidInput, InvalidTransition, NotFound, Refused
from engine.core.models import Case, CaseLink, CaseParticipant, HistoryEntry, ProcessVersion, Timer, UserTask
from engine.core.paging import Page, keyset_page
from engine.core.roles import role_id
from engine.core.seats import NONE
from engine.integration import outbox

# A step that fails at run time is refused with nothing of it applied (timers are put off and retried), so a
# case never ends half-done: it stays open at the step before, and there is no "failed" status.
STATUSES = ("open", "completed", "cancelled")


START_CASE_MESSAGE = "starta_arende"  # a thrown message {"process": KEY, "data": {...}} starts a linked case


@dataclass
class LinkView:
    case_id: str
    process_key: str
    relation: str  # startade (this case started it) | startad_av (this case was started by it)


@dataclass
class CaseView:
    case: Case
    data: dict  # what the reader may see of the case data
    process_version: int
    open_tasks: list[UserTask]
    timers: list[Timer]
    links: list[LinkView]
    barn_personnummer: str | None = None  # shown like the data of the agency that registered the child


_VALUES = object()


def _declares_pupil(schema: dict | None) -> bool:
    """Whether a start form declares its `skola` and `elev` fields as the pupil key."""
    return bool(schema) and schema.get("x-samverka-key") == "elev"


def _with_changes(data: dict | None, records: list[StepRecord], stamp=_VALUES) -> dict:
    """`data` after a step's changes; with `stamp`, each changed key maps to it instead of its value
    (how the case remembers which agency last wrote each key)."""
    merged = dict(data or {})
    for record in records:
        if record.data_changes:
            changed = record.data_changes.get("set", {})
            merged.update(changed if stamp is _VALUES else dict.fromkeys(changed, stamp))
            for key in record.data_changes.get("removed", []):
                merged.pop(key, None)
    return merged


class CaseService:
    """Domain operations on cases; the caller owns the transaction."""

    def __init__(self, session: Session, clock: Clock, runner: Runner, specs: SpecCache,
                 children: ChildRegistry | None = None, forms_dir: Path = forms.FORMS_DIR,
                 areas: dict[str, str] | None = None, default_unit: str = ""):
        self.session, self.clock, self.runner, self.specs = session, clock, runner, specs
        self.access = CaseAccess(session, clock, areas)
        self.default_unit = default_unit  # the unit of cases of processes that declare case_unit = setting
        self.children = children  # None where no personnummer comes in (workers, simulations)
        self.forms_dir = forms_dir  # start forms

    def version_of(self, case: Case) -> ProcessVersion:
        """The process version a case runs on."""
        return self.session.get(ProcessVersion, case.process_version_id)

    def spec_for(self, version: ProcessVersion) -> CachedSpec:
        # Versions stored before migration 0017 (no resources) wrote their DMN cells in the safe subset.
        legacy = version.resources is None
        return self.specs.get(version.id, version.key, version.files, "python" if legacy else "feel")

    def start(self, principal: Principal, process_key: str, data: dict, authorized: bool = False,
              personnummer: str | None = None, child_id: str | None = None, trusted: bool = False,
              unit: str | None = None) -> Case:
        """Start a case on the newest version of `process_key`, as one of its roles (or `authorized` by the caller),
        about the child with `personnummer` (or the registered child `child_id`).

        Start data from a client must match the process's start form (no form: no data); the engine's own
        starts (a linked case, the absence import) are `trusted`. Keys are claimed here (engine.casework.correlation)."""
        try:
            version = deployments.get_version(self.session, process_key)
        except NotFound as exc:
            raise InvalidInput(exc.detail, [FieldError("/process_key", exc.detail)]) from None
        cached = self.spec_for(version)
        roles = principal.role_ids & cached.candidate_groups
        if not (authorized or is_system(principal) or
                (acts_in_cases(principal) and (roles or not cached.candidate_groups))):
            raise Refused(f"starting a {version.key} case needs one of its roles "
                          f"({', '.join(sorted(cached.candidate_groups))}) and an agency")
        refuse_in_data(data, self.clock)
        start_form = None if trusted else self._check_start_data(cached, version, data)
        if personnummer is not None:
            if self.children is None:
                raise InvalidInput("a personnummer cannot be given here",
                                   [FieldError("/barn_personnummer", "not accepted here")])
            child_id = self.children.register(personnummer).id
        if child_id is not None:
            data = {**data, "barn": child_id}
        snapshot = self.runner.start(cached, data)
        now = self.clock.now()
        case = Case(id=str(uuid.uuid4()), process_key=version.key, process_version_id=version.id, status="open",
                    data={}, state="", serializer_version=SERIALIZER_VERSION, created_at=now, updated_at=now,
                    created_by=principal.user, child_id=child_id,
                    unit=seats.case_unit(cached.declared, principal, data, unit, self.default_unit))
        self.session.add(case)
        self.session.flush()
        correlation.claim(self.session, case, self._keys(data, child_id, trusted or _declares_pupil(start_form)))
        snapshot.records.insert(0, StepRecord("case_started", version.key, version.name, "Process",
                                              data_changes={"set": data} if data else None))
        self.apply(case, snapshot, principal)
        for role in sorted(roles) or [PARTICIPANT_ROLE]:
            self.access.join(principal, case.id, role, "started")
        return case

    def forms_for(self, version: ProcessVersion, folder: Path | None = None) -> forms.FormSet:
        """The forms deployed with a process version (a running case keeps its version's forms); versions from
        before forms came with the model read them from `folder` (default: this service's)."""
        deployed = version.resources.get("forms") if version.resources is not None else None
        return forms.for_version(version.content_hash, deployed, folder or self.forms_dir)

    def _check_start_data(self, cached: CachedSpec, version: ProcessVersion, data: dict) -> dict | None:
        """The start form's schema, after checking `data` against it; InvalidInput naming each bad field."""
        process_key, form_set = version.key, self.forms_for(version)
        schema, _ = form_set.form(cached.start_form) if cached.start_form else (None, None)
        if schema is None:
            if data:
                raise InvalidInput(f"a {process_key} case starts with no data", [FieldError(
                    f"/data/{key}", f"unknown: {process_key} has no start form; the child is given as "
                                    "barn_personnummer, and everything else by the case's steps") for key in sorted(data)])
            return None
        errors = forms.validate(form_set, cached.start_form, data, {})
        if errors:
            raise InvalidInput(f"the start data does not match the form {cached.start_form}", errors)
        return schema

    @staticmethod
    def _keys(data: dict, child_id: str | None, pupil_from_data: bool) -> dict[str, str]:
        keys = {"barn": child_id} if child_id else {}
        if pupil_from_data and isinstance(data.get("skola"), str) and isinstance(data.get("elev"), str):
            keys["elev"] = correlation.pupil_key(data["skola"], data["elev"])
        return keys

    def load(self, case_id: str) -> Case:
        case = self.session.scalar(select(Case).where(Case.id == case_id))
        if case is None:
            raise NotFound(f"no case with id {case_id}")
        return case

    def view(self, principal: Principal, case_id: str, what: str = "case") -> CaseView:
        """The case as `principal` may see it; the read is logged."""
        case = self.access.readable(principal, case_id, what)
        version = self.session.get(ProcessVersion, case.process_version_id)
        tasks = list(self.session.scalars(select(UserTask).where(UserTask.case_id == case.id, UserTask.state == "open")
                                          .order_by(UserTask.created_at, UserTask.id)))
        timers = list(self.session.scalars(select(Timer).where(Timer.case_id == case.id).order_by(Timer.due_at)))
        data = self.access.visible_data(principal, case)
        # The number was registered with the case's `barn`: it is shown to whoever may see that key now.
        number = self.children.reveal(case.child_id) if self.children and "barn" in data else None
        return CaseView(case, data, version.version, tasks, timers, self.links(case.id), number)

    def links(self, case_id: str) -> list[LinkView]:
        """The cases this one started and the case that started it."""
        started = self.session.execute(select(CaseLink.to_case_id, Case.process_key).join(
            Case, Case.id == CaseLink.to_case_id).where(CaseLink.from_case_id == case_id).order_by(CaseLink.id))
        started_by = self.session.execute(select(CaseLink.from_case_id, Case.process_key).join(
            Case, Case.id == CaseLink.from_case_id).where(CaseLink.to_case_id == case_id).order_by(CaseLink.id))
        return ([LinkView(i, k, "startade") for i, k in started] +
                [LinkView(i, k, "startad_av") for i, k in started_by])

    def list(self, principal: Principal, process_key: str | None, status: str | None, cursor: str | None,
             limit: int) -> Page:
        """The cases `principal` participates in; each one returned is logged as read."""
        require_caseworker(principal)
        query = self.access.member_cases(select(Case), principal)
        if process_key:
            query = query.where(Case.process_key == process_key)
        if status:
            query = query.where(Case.status == status)
        page = keyset_page(self.session, query, Case.created_at, Case.id, cursor, limit)
        audit.record(self.session, self.clock, principal, [c.id for c in page.items], "read", "case list")
        return page

    def participants(self, principal: Principal, case_id: str) -> list[CaseParticipant]:
        self.access.readable(principal, case_id, "participants")
        return self.access.participants(case_id)

    def access_log(self, principal: Principal, case_id: str, cursor: str | None, limit: int) -> Page:
        """The case's access log, for the registrar (role registrator); reading it is logged too."""
        self._require_registrar(principal)
        self.load(case_id)
        audit.record(self.session, self.clock, principal, [case_id], "read", "access log")
        return audit.for_cases(self.session, [case_id], cursor, limit)

    def access_log_extract(self, principal: Principal, personnummer: str, cursor: str | None, limit: int) -> Page:
        """The access log of every case about the child with `personnummer`, for the registrar."""
        self._require_registrar(principal)
        pnr = self.children.normalized(personnummer, "/personnummer")
        child = self.children.find(pnr)
        case_ids = list(self.session.scalars(select(Case.id).where(Case.child_id == child.id))) if child else []
        if not case_ids:
            raise NotFound("no case is about a child with that number")
        audit.record(self.session, self.clock, principal, case_ids, "read", "access log extract")
        return audit.for_cases(self.session, case_ids, cursor, limit)

    @staticmethod
    def _require_registrar(principal: Principal) -> None:
        if not principal.has_role(audit.REGISTRAR_ROLE) or is_client(principal):
            raise Refused(f"the access log is for the role {audit.REGISTRAR_ROLE}")

    def cancel(self, principal: Principal, case_id: str) -> Case:
        case = self.access.allowed(principal, case_id, self._declared(case_id).grants("cancel"), "cancel",
                                   "cancel the case")
        if case.status != "open":
            raise InvalidTransition(f"case {case_id} is {case.status}; only open cases can be cancelled")
        workflow = self.runner.load(self._spec_of(case), case.state)
        self.apply(case, self.runner.cancel(workflow), principal, status="cancelled")
        return case

    def deliver(self, principal: Principal, case_id: str, name: str, data: dict, authorized: bool = False) -> Case:
        """Deliver a BPMN message to an open case: by a participant, or a client with the scope messages:KEY."""
        if is_client(principal):
            case = self.load(case_id)
            if not (authorized or has_scope(principal, "messages", case.process_key)):
                raise Refused(f"messages to {case.process_key} cases need the scope messages:{case.process_key}")
        else:
            case = self.session.get(Case, case_id)
            if case is not None and name not in self._spec_of(case).messages and self.access.may_read(principal, case_id):
                raise NotFound(f"the process has no message {name}")
            grants = self._declared(case_id).grants(f"message:{name}")
            case = self.access.allowed(principal, case_id, grants, f"message {name}", f"send {name}")
            if not self.access.roles_in(case_id, principal.key):  # reached by a grant @unit/@area: now in the case
                role = next(g.role for g in grants if principal.has_role(g.role) and g.reach != "participant")
                self.access.join(principal, case_id, role, "message")
        cached = self._spec_of(case)
        refuse_in_data(data, self.clock)
        if case.status != "open":
            raise InvalidTransition(f"case {case_id} is {case.status}")
        self.apply(case, self.runner.deliver(cached, self.runner.load(cached, case.state), name, data), principal)
        return case

    def _declared(self, case_id: str):
        """The seat and rights declarations of the case's process (none for a case that does not exist)."""
        case = self.session.get(Case, case_id)
        return self._spec_of(case).declared if case is not None else NONE

    def history(self, principal: Principal, case_id: str, cursor: str | None, limit: int) -> Page:
        """Every step of the case; what another agency recorded shows without its data unless consent covers it."""
        case = self.access.readable(principal, case_id, "history")
        query = select(HistoryEntry).where(HistoryEntry.case_id == case_id)
        page = keyset_page(self.session, query, None, HistoryEntry.id, cursor, limit)
        agencies = self.access.visible_agencies(principal, case)
        for entry in page.items:
            hidden = agencies is not None and entry.actor_agency is not None and entry.actor_agency not in agencies
            entry.redacted = hidden and bool(entry.data_changes or (entry.details or {}).get("payload"))
            if entry.redacted:
                self.session.expunge(entry)  # shown without the data; never written back
                entry.data_changes, entry.details = None, {k: v for k, v in (entry.details or {}).items()
                                                           if k != "payload"}
        return page

    def _spec_of(self, case: Case) -> CachedSpec:
        return self.spec_for(self.session.get(ProcessVersion, case.process_version_id))

    def workflow_of(self, case: Case):
        """The case's live workflow, restored against its version's cached spec."""
        return self.runner.load(self._spec_of(case), case.state)

    def apply(self, case: Case, snapshot: Snapshot, principal: Principal, status: str | None = None,
              completed_task: str | None = None) -> None:
        """Write a step's outcome: state, data, task rows, timers and history, in the caller's transaction."""
        now = self.clock.now()
        # Case data is the sum of what each step changed, so parallel branches holding older copies
        # of the data never roll a newer value back.
        case.state, case.data, case.updated_at = snapshot.state, _with_changes(case.data, snapshot.records), now
        case.serializer_version = SERIALIZER_VERSION
        case.data_origin = _with_changes(case.data_origin, snapshot.records, stamp=principal.agency)
        cached = self._spec_of(case)
        case.consent = consent.updated(case.consent, snapshot.records, now, frozenset(
            element for element, form in cached.form_keys.items() if form == consent.CONSENT_FORM))
        if status or snapshot.completed:
            case.status, case.closed_at = status or "completed", now
            snapshot.records.append(StepRecord(f"case_{case.status}", None, None, None))
            correlation.release(self.session, case)
        due = {}
        for timer in snapshot.timers:
            if timer.attached_to and (timer.attached_to not in due or timer.due_at < due[timer.attached_to]):
                due[timer.attached_to] = timer.due_at
        self._sync_tasks(case, snapshot, principal, now, due, completed_task)
        self._sync_timers(case, snapshot)
        for record in snapshot.records:
            self.record_history(case, principal, now, record)
        audit.record(self.session, self.clock, principal, [case.id], "write",
                     " ".join(dict.fromkeys(r.event for r in snapshot.records)))
        self.session.flush()
        for record in snapshot.records:
            if record.event == "message_sent" and record.details["message"] == START_CASE_MESSAGE:
                self._start_linked(case, principal, record.details["payload"])

    def _start_linked(self, case: Case, principal: Principal, payload) -> None:
        if not isinstance(payload, dict) or not isinstance(payload.get("process"), str):
            raise InvalidInput(f"{START_CASE_MESSAGE} needs a payload {{process, data}}",
                               [FieldError(f"process/{START_CASE_MESSAGE}", "payload must name a process")])
        # The process itself decided to start the linked case, so its starter needs no role in it.
        linked = self.start(principal, payload["process"], dict(payload.get("data") or {}), authorized=True,
                            child_id=case.child_id, trusted=True)
        self.session.add(CaseLink(from_case_id=case.id, to_case_id=linked.id, created_at=self.clock.now()))
        self.session.flush()

    def _sync_tasks(self, case, snapshot, principal, now, due, completed_task) -> None:
        rows = {row.id: row for row in self.session.scalars(
            select(UserTask).where(UserTask.case_id == case.id, UserTask.state == "open"))}
        current = {t.id for t in snapshot.open_tasks}
        for task_id, row in rows.items():
            if task_id not in current:
                row.state = "completed" if task_id == completed_task else "cancelled"
                row.completed_at = now
                if task_id == completed_task:
                    row.completed_by = principal.user
                else:
                    snapshot.records.append(StepRecord("task_cancelled", row.element_id, row.name, "UserTask", row.id))
            else:
                # A fired non-interrupting deadline leaves its task open and still due when it was.
                row.due_at = due.get(task_id, row.due_at)
        declared = self._spec_of(case).declared
        for task in snapshot.open_tasks:
            if task.id not in rows:
                self.session.add(UserTask(id=task.id, case_id=case.id, process_key=case.process_key,
                                          element_id=task.element_id, name=task.name,
                                          candidate_group=task.candidate_group, form_key=task.form_key,
                                          seat=getattr(declared.seat(task.candidate_group), "kind", None),
                                          state="open", due_at=due.get(task.id), created_at=now))
                snapshot.records.append(StepRecord("task_created", task.element_id, task.name, "UserTask", task.id))

    def _sync_timers(self, case, snapshot) -> None:
        rows = {row.id: row for row in self.session.scalars(select(Timer).where(Timer.case_id == case.id))}
        current = {t.id: t for t in snapshot.timers}
        for timer_id, row in rows.items():
            if timer_id not in current:
                self.session.delete(row)
        for timer_id, timer in current.items():
            row = rows.get(timer_id)
            if row is None:
                self.session.add(Timer(id=timer.id, case_id=case.id, process_key=case.process_key,
                                       element_id=timer.element_id, name=timer.name, kind=timer.kind,
                                       effect=timer.effect, leads_to=timer.leads_to, expression=timer.expression,
                                       repeats=timer.repeats, attached_to=timer.attached_to,
                                       interrupting=timer.interrupting, due_at=timer.due_at, fire_at=timer.due_at,
                                       attempts=0))
            elif row.due_at != timer.due_at:  # a cycle moved on to its next period
                row.due_at = row.fire_at = timer.due_at
                row.attempts, row.last_error = 0, None

    def record_history(self, case: Case, principal: Principal, now, record: StepRecord) -> None:
        """Append one history row for `case`."""
        write_history(self.session, case, principal, now, record)


def write_history(session: Session, case: Case, principal: Principal, now, record: StepRecord) -> None:
    """One history row for `case`, and its events in the outbox, in the caller's transaction."""
    session.add(HistoryEntry(case_id=case.id, at=now, event=record.event, element_id=record.element_id,
                             element_name=record.element_name, element_type=record.element_type,
                             task_id=record.task_id, actor_user=principal.user, actor_agency=principal.agency,
                             actor_roles=sorted(principal.roles), data_changes=record.data_changes,
                             details=record.details))
    outbox.emit(session, case, now, record.event, record)
