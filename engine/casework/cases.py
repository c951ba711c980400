"""Cases (ärenden): start, read, list, cancel, and persist every step with its history."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from engine.access import audit, consent
from engine.access.children import ChildRegistry, refuse_in_data
from engine.access.identity import Principal
from engine.access.policy import (PARTICIPANT_ROLE, CaseAccess, acts_in_cases, has_scope, is_client, is_system,
                                  require_caseworker)
from engine.bpmn.runner import Runner, Snapshot, StepRecord
from engine.bpmn.serializer import SERIALIZER_VERSION
from engine.bpmn.specs import CachedSpec, SpecCache
from engine.casework import (case_numbers, correlation, deployments, forms, incidents, report_facts, seats,
                             step_rows, suspension)
from engine.core.appends import Appends
from engine.core.clock import Clock
from engine.core.errors import EngineError, FieldError, InvalidInput, InvalidTransition, NotFound, Refused
from engine.core.models import Case, CaseLink, CaseParticipant, HistoryEntry, Incident, ProcessVersion, Timer, UserTask
from engine.core.paging import Page, keyset_page
from engine.core.seats import NONE

# A step that fails at run time never leaves a case half-done and there is no "failed" status: the case stays
# open, blocked at the failing element by an incident (engine.casework.incidents) until it is retried.
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
    incident: Incident | None = None  # what the case is blocked by, if anything


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
        return self.version(case.process_version_id)

    def version(self, version_id: int) -> ProcessVersion:
        """A deployed version, read from the database once per process (versions never change): a detached,
        read-only row. One this transaction holds (say, deployed in it) is used as it is and not kept."""
        held = self.session.identity_map.get(identity_key(ProcessVersion, version_id))
        if held is not None:
            return held

        def load() -> ProcessVersion:
            row = self.session.scalar(select(ProcessVersion).where(ProcessVersion.id == version_id))
            if row is None:
                raise NotFound(f"no process version {version_id}")
            self.session.expunge(row)
            return row
        return self.specs.row(version_id, load)

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
                    case_number=case_numbers.next_number(self.session, version.key, now),
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
        errors = forms.validate(form_set, cached.start_form, data)
        if errors:
            raise InvalidInput(f"startuppgifterna stämmer inte med formuläret {cached.start_form}", errors)
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
        version = self.version_of(case)
        tasks = list(self.session.scalars(select(UserTask).where(UserTask.case_id == case.id, UserTask.state == "open")
                                          .order_by(UserTask.created_at, UserTask.id)))
        timers = list(self.session.scalars(select(Timer).where(Timer.case_id == case.id).order_by(Timer.due_at)))
        data = self.access.visible_data(principal, case)
        # The number was registered with the case's `barn`: it is shown to whoever may see that key now.
        number = self.children.reveal(case.child_id) if self.children and "barn" in data else None
        return CaseView(case, data, version.version, tasks, timers, self.links(case.id), number,
                        incidents.open_incident(self.session, case))

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
        """The case's access log, for a registrar (role registrator) of an agency that takes part in the case;
        reading it is logged too. Any other case answers as an unknown one."""
        self._require_registrar(principal)
        case = self.load(case_id)
        if not audit.cases_of_agency(self.session, principal.agency, [case_id]):
            raise self.access.refused(principal, case, case_id, "access log")
        audit.record(self.session, self.clock, principal, [case_id], "read", "access log")
        return audit.for_cases(self.session, [case_id], cursor, limit)

    def access_log_extract(self, principal: Principal, personnummer: str, cursor: str | None, limit: int) -> Page:
        """The access log of every case of the registrar's agency about the child with `personnummer`.

        The answer has the same shape whether or not the child has a case (an empty page if none), so the
        extract does not tell who has a case."""
        self._require_registrar(principal)
        pnr = self.children.normalized(personnummer, "/personnummer")
        child = self.children.find(pnr)
        case_ids = list(self.session.scalars(select(Case.id).where(Case.child_id == child.id)
                                             .order_by(Case.id))) if child else []
        case_ids = audit.cases_of_agency(self.session, principal.agency, case_ids)
        audit.record(self.session, self.clock, principal, case_ids, "read", "access log extract")
        return audit.for_cases(self.session, case_ids, cursor, limit) if case_ids else Page([], None)

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
            if acts_in_cases(principal) and not self.access.roles_in(case_id, principal.key):
                # reached by a grant @unit/@area: from now on in the case, in that role
                role = next(g.role for g in grants if principal.has_role(g.role) and g.reach != "participant")
                self.access.join(principal, case_id, role, "message")
        cached = self._spec_of(case)
        refuse_in_data(data, self.clock)
        if case.status != "open":
            raise InvalidTransition(f"case {case_id} is {case.status}")
        if case.suspended_at is not None:  # messages wait for the resume (engine.casework.suspension)
            suspension.hold(self, case, principal, name, data)
            return case
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
        return self.spec_for(self.version_of(case))

    def workflow_of(self, case: Case):
        """The case's live workflow, restored against its version's cached spec."""
        return self.runner.load(self._spec_of(case), case.state)

    def apply(self, case: Case, snapshot: Snapshot, principal: Principal, status: str | None = None,
              completed_task: str | None = None, open_tasks: list[UserTask] | None = None,
              timers: list | None = None) -> list[UserTask]:
        """Write a step's outcome: state, data, task rows, timers and history, in the caller's transaction; the
        case's open tasks after it. The `completed_task` is taken by `principal` as it is completed: Conflict if
        someone else holds it. `open_tasks` and `timers`: the case's open task and timer rows, if the caller has
        just loaded them."""
        now = self.clock.now()
        # The case's changes and the step's new and append-only rows are written together at its end (one statement
        # on PostgreSQL). Case data is the sum of what each step changed, so parallel branches holding older copies
        # of the data never roll a newer value back.
        appends = Appends()
        cached = self._spec_of(case)
        appends.assign(self.session, case, {
            "state": snapshot.state, "data": _with_changes(case.data, snapshot.records), "updated_at": now,
            "serializer_version": SERIALIZER_VERSION,
            "data_origin": _with_changes(case.data_origin, snapshot.records, stamp=principal.agency),
            "consent": consent.updated(case.consent, snapshot.records, now, frozenset(
                element for element, form in cached.form_keys.items() if form == consent.CONSENT_FORM))})
        incidents.track(self.session, case, snapshot, principal, now, closing=bool(status or snapshot.completed))
        if status or snapshot.completed:
            case.status, case.closed_at = status or "completed", now
            snapshot.records.append(StepRecord(f"case_{case.status}", None, None, None))
            correlation.release(self.session, case)
        open_rows = step_rows.sync_tasks(self.session, appends, case, snapshot, principal, now,
                                         self._spec_of(case).declared, completed_task, open_tasks)
        step_rows.sync_timers(self.session, appends, case, snapshot, timers)
        step_rows.write_histories(self.session, appends, case, principal, now, snapshot.records)
        report_facts.record(self.session, appends, case, principal, snapshot.records, now,
                            self._tasks_of(snapshot.records))
        audit.record_one(appends, self.clock, principal, case.id, "write",
                         " ".join(dict.fromkeys(r.event for r in snapshot.records)))
        appends.update_versioned(self.session, case)
        self.session.flush()
        appends.write(self.session)
        for record in snapshot.records:
            if record.event == "message_sent" and record.details["message"] == START_CASE_MESSAGE:
                payload = record.details["payload"]
                try:
                    with self.session.begin_nested():  # a refused start leaves nothing of itself behind
                        self.start_linked(case, principal, payload)
                except EngineError as exc:
                    self.record_history(case, principal, now, incidents.message_refused(
                        self.session, case, payload, exc, principal, now, START_CASE_MESSAGE))
                    self.session.flush()
        return open_rows

    def _tasks_of(self, records: list[StepRecord]) -> dict[str, UserTask]:
        """The task rows a step's records name (completed or past their deadline), from the session's map."""
        ids = {r.task_id for r in records if r.task_id and r.event in ("task_completed", "deadline_missed")}
        rows = {task_id: self.session.get(UserTask, task_id) for task_id in ids}
        return {task_id: row for task_id, row in rows.items() if row is not None}

    def start_linked(self, case: Case, principal: Principal, payload) -> None:
        """Start the case a thrown `starta_arende` message asks for, linked to `case`."""
        if not isinstance(payload, dict) or not isinstance(payload.get("process"), str):
            raise InvalidInput(f"{START_CASE_MESSAGE} needs a payload {{process, data}}",
                               [FieldError(f"process/{START_CASE_MESSAGE}", "payload must name a process")])
        # The process itself decided to start the linked case, so its starter needs no role in it.
        linked = self.start(principal, payload["process"], dict(payload.get("data") or {}), authorized=True,
                            child_id=case.child_id, trusted=True)
        self.session.add(CaseLink(from_case_id=case.id, to_case_id=linked.id, created_at=self.clock.now()))
        self.session.flush()

    def record_history(self, case: Case, principal: Principal, now, record: StepRecord) -> None:
        """Append one history row for `case`."""
        step_rows.write_history(self.session, case, principal, now, record)
