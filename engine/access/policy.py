"""Who may see and do what in a case (the authorization model the README describes).

- People are matched by issuer and subject (engine.access.directory), never by a bare user name.
- A case's participants are recorded per case: who holds which seat (role) in it, for which agency.
  Starting a case, acting on one of its tasks, being appointed by a step's form, or being added or handed a
  seat makes you one.
- Every case has a unit (a school, an office; engine.casework.seats says where it comes from) and every person
  one or more (from the directory; none given means the deployment's one unit, "").
- A task is acted on per the seat its lane declares (engine.core.seats): an appointed seat by its appointed
  holders only; a `unit` seat by the role's holders at the case's unit; an `area` seat also by those at the
  unit's area (SAMVERKA_UNIT_AREAS); an `agency` seat by one holder per agency, the first to act. A
  participant in the role acts too (added people must hold the role in the directory). A task's part for
  another seat (engine.core.seats `part`) is done by whom that role's seat reaches, of the part's agency if named.
- Case-wide actions (cancel, each message, adding participants, handing over seats) are taken by the roles
  the model grants them to; a process that grants none lets every participant take them.
- Case data is read by participants and by whoever may act on one of its open tasks. Each data key remembers
  the agency that wrote it: another agency sees it only while consent naming both agencies is in force
  (engine.consent), checked on every request.
- Integration clients (role integrator, or an API key) and process owners see no case data;
  internal actors (the timer worker, simulations) hold the role `system`, which no token can carry.
- A case the caller may not read is answered as if it did not exist (404), so ids reveal nothing; someone
  who may read it and may not do a thing is told why (403).
"""
from __future__ import annotations

from sqlalchemy import exists, false, func, select
from sqlalchemy.orm import Session

from engine.access import audit
from engine.access.consent import sharing_agencies
from engine.access.identity import Principal
from engine.core.clock import Clock
from engine.core.errors import NotFound, Refused
from engine.core.models import Case, CaseParticipant, Person, TaskPart, UserTask
from engine.core.roles import role_id

SYSTEM_ROLE = "system"
INTEGRATOR_ROLE = "integrator"
OWNER_ROLE = "processagare"
STEERING_ROLE = "ledning"  # the steering group: reads reports (measures) and nothing else
PARTICIPANT_ROLE = "deltagare"  # the role recorded for the starter of a process without lanes


def same_person(key: tuple[str, str]) -> tuple:
    """The WHERE terms matching case participants who are the person with `key` (issuer, subject)."""
    return CaseParticipant.issuer == key[0], CaseParticipant.subject == key[1]


def is_system(principal: Principal) -> bool:
    return SYSTEM_ROLE in principal.role_ids


def is_client(principal: Principal) -> bool:
    """An integration client: it moves facts in and events out, never reads case data."""
    return principal.has_role(INTEGRATOR_ROLE) or principal.client.startswith("api-key:")


def has_scope(principal: Principal, area: str, target: str | None = None) -> bool:
    """Whether a client's scopes allow `area` (events, webhooks) or `area:target` (messages:hlt, absence:SCHOOL).

    Targets are compared as slugs (engine.roles), so `absence:skolan_i_hoor` covers the school "Skolan i Höör"."""
    wanted = {"*", area, f"{area}:*"} | ({f"{area}:{role_id(target)}"} if target is not None else set())
    return bool(principal.scopes & wanted)


def require_client(principal: Principal, area: str, target: str | None = None) -> None:
    """Refused unless `principal` is an integration client whose scopes cover `area` (and `target`)."""
    if not is_client(principal):
        raise Refused(f"this needs an integration client (role {INTEGRATOR_ROLE} or an API key)")
    if not has_scope(principal, area, target):
        raise Refused(f"this needs the scope {area}" + (f":{role_id(target)}" if target is not None else ""))


def event_processes(principal: Principal) -> frozenset[str] | None:
    """The processes whose events a client may see: None for all (scope events), or those its
    `events:PROCESS` scopes name; Refused if none."""
    if not is_client(principal):
        require_client(principal, "events")  # refuses, naming what is needed
    if has_scope(principal, "events"):
        return None
    named = frozenset(s.split(":", 1)[1] for s in principal.scopes if s.startswith("events:"))
    if not named:
        raise Refused("this needs the scope events or events:PROCESS")
    return named


def acts_in_cases(principal: Principal) -> bool:
    """A caseworker: a person acting for an agency."""
    return (bool(principal.agency) and not is_client(principal) and not is_system(principal)
            and not (principal.role_ids and principal.role_ids <= {STEERING_ROLE}))


def require_caseworker(principal: Principal) -> None:
    """Refused unless `principal` acts for an agency in cases (lists of cases, tasks and deadlines)."""
    if not (acts_in_cases(principal) or is_system(principal)):
        raise Refused("this is for caseworkers: a person acting for an agency")


def require_definition_reader(principal: Principal) -> None:
    """Process definitions are read by process owners and caseworkers."""
    if not (principal.has_role(OWNER_ROLE) or acts_in_cases(principal) or is_system(principal)):
        raise Refused(f"process definitions are read by the role {OWNER_ROLE} and by caseworkers")


NO_UNIT = ""  # the unit of a person or case for which none is known: a deployment without units is one unit


def units_of(principal: Principal) -> frozenset[str]:
    return principal.units or frozenset({NO_UNIT})


_ROLES = "policy.roles"


class CaseAccess:
    """The rules above, over the caller's session; `areas` maps a unit to the area it belongs to."""

    def __init__(self, session: Session, clock: Clock, areas: dict[str, str] | None = None):
        self.session, self.clock, self.areas = session, clock, areas or {}

    @property
    def _roles(self) -> dict[tuple[str, tuple[str, str]], set[str]]:
        """Roles read in this request (a step checks them several times), in session.info: cleared with it when
        the request's work starts again from the top (api/deps.py)."""
        return self.session.info.setdefault(_ROLES, {})

    def known_roles(self, case_id: str, key: tuple[str, str], roles: set[str]) -> None:
        """Note the roles the person with `key` holds in the case, read with other rows of the same transaction."""
        self._roles[case_id, key] = set(roles)

    def roles_in(self, case_id: str, key: tuple[str, str]) -> set[str]:
        """The roles the person with `key` (issuer, subject) holds in the case (empty if not a participant)."""
        if (case_id, key) not in self._roles:
            self._roles[case_id, key] = set(self.session.scalars(select(CaseParticipant.role).where(
                CaseParticipant.case_id == case_id, *same_person(key))))
        return self._roles[case_id, key]

    def reach_units(self, principal: Principal, reach: str) -> frozenset[str]:
        """The case units `principal` reaches: theirs (`unit`), and those of the areas they work in (`area`)."""
        units = units_of(principal)
        if reach == "area":
            units |= {unit for unit, area in self.areas.items() if area in units}
        return units

    def reaches(self, principal: Principal, case: Case, reach: str) -> bool:
        return (case.unit or NO_UNIT) in self.reach_units(principal, reach)

    def agency_seat_taken(self, case_id: str, role: str, agency: str | None) -> bool:
        return self.session.scalar(select(CaseParticipant.id).where(
            CaseParticipant.case_id == case_id, CaseParticipant.role == role,
            CaseParticipant.agency == (agency or "")).limit(1)) is not None

    def may_act(self, principal: Principal, case_id: str, role: str | None, seat: str | None) -> bool:
        """Whether `principal` may claim or complete a task of `role`, whose lane declares `seat`, in the case."""
        if is_system(principal):
            return True
        if not acts_in_cases(principal):
            return False
        held = self.roles_in(case_id, principal.key)
        if role is None:
            return bool(held)
        if role in held and (seat == "appointed" or principal.has_role(role)):
            return True
        if seat == "appointed" or not principal.has_role(role):
            return False
        case = self.session.get(Case, case_id)
        if seat == "agency":
            return self.reaches(principal, case, "area") and not self.agency_seat_taken(case_id, role, principal.agency)
        return self.reaches(principal, case, "area" if seat == "area" else "unit")

    def may_do_part(self, principal: Principal, case_id: str, part: TaskPart) -> bool:
        """Whether `principal` may do `part` of a task: as its role's seat reaches them, of its agency if named."""
        if part.agency and not is_system(principal) and principal.agency != part.agency:
            return False
        return self.may_act(principal, case_id, part.role, part.seat)

    def may_read(self, principal: Principal, case_id: str) -> bool:
        if is_system(principal):
            return True
        if not acts_in_cases(principal):
            return False
        if self.roles_in(case_id, principal.key):
            return True
        tasks = self.session.execute(select(UserTask.candidate_group, UserTask.seat).distinct().where(
            UserTask.case_id == case_id, UserTask.state == "open", UserTask.candidate_group.in_(principal.role_ids)))
        if any(self.may_act(principal, case_id, group, seat) for group, seat in tasks):
            return True
        parts = self.session.scalars(select(TaskPart).join(UserTask, UserTask.id == TaskPart.task_id).where(
            TaskPart.case_id == case_id, UserTask.state == "open", TaskPart.role.in_(principal.role_ids)))
        return any(self.may_do_part(principal, case_id, part) for part in parts)

    def may(self, principal: Principal, case: Case, grants) -> bool:
        """Whether `principal` is given a case-wide action by `grants` (engine.core.seats; None: participants)."""
        if is_system(principal):
            return True
        if not acts_in_cases(principal):
            return False
        held = self.roles_in(case.id, principal.key)
        if grants is None:
            return bool(held)
        return any(grant.role in held or (grant.reach != "participant" and principal.has_role(grant.role)
                                          and self.reaches(principal, case, grant.reach)) for grant in grants)

    def allowed(self, principal: Principal, case_id: str, grants, what: str, doing: str) -> Case:
        """The case, if `grants` give `principal` the action; 403 saying so to someone who may read it, 404 to others."""
        case = self.session.get(Case, case_id)
        if case is not None and self.may(principal, case, grants):
            return case
        if case is not None and self.may_read(principal, case_id):
            audit.record_refused(self.session, self.clock, principal, case.id, what)
            roles = ", ".join(sorted(g.role for g in grants or ())) or "no role"
            raise Refused(f"your role may not {doing} in this case (the process gives it to: {roles})")
        raise self.refused(principal, case, case_id, what)

    def readable(self, principal: Principal, case_id: str, what: str) -> Case:
        """The case, logged as read by `principal`; NotFound if it does not exist or they may not read it."""
        case = self.session.get(Case, case_id)
        if case is None or not self.may_read(principal, case_id):
            raise self.refused(principal, case, case_id, what)
        audit.record(self.session, self.clock, principal, [case_id], "read", what)
        return case

    def member(self, principal: Principal, case_id: str, what: str) -> Case:
        """The case, if `principal` is one of its participants (or internal); NotFound otherwise."""
        case = self.session.get(Case, case_id)
        if case is None or not (is_system(principal) or
                                (acts_in_cases(principal) and self.roles_in(case_id, principal.key))):
            raise self.refused(principal, case, case_id, what)
        return case

    def refused(self, principal: Principal, case: Case | None, case_id: str, what: str) -> NotFound:
        """The NotFound to raise for a case `principal` may not touch; an attempt on a real case is logged."""
        if case is not None:
            audit.record_refused(self.session, self.clock, principal, case.id, what)
        return NotFound(f"no case with id {case_id}")

    def join(self, principal: Principal, case_id: str, role: str, source: str, person: Person | None = None) -> None:
        """Record a participant (the principal itself unless `person` is given); a no-op if already recorded."""
        if person is None and not acts_in_cases(principal):
            return
        key = (person.issuer, person.subject) if person else principal.key
        if role in self.roles_in(case_id, key):
            return
        participant = CaseParticipant(case_id=case_id, issuer=key[0], subject=key[1],
                                      user=person.user_name if person else principal.user,
                                      agency=(person.agency if person else principal.agency) or "",
                                      role=role, source=source, added_at=self.clock.now(), added_by=principal.user)
        self.session.add(participant)
        self.session.flush()
        if (case_id, key) in self._roles:  # known for this request: now with the new role, no re-read
            self._roles[case_id, key].add(role)

    def forget(self, case_id: str, key: tuple[str, str]) -> None:
        """Drop what this request knows of a person's roles in the case (after a change)."""
        self._roles.pop((case_id, key), None)

    def participants(self, case_id: str) -> list[CaseParticipant]:
        return list(self.session.scalars(select(CaseParticipant).where(CaseParticipant.case_id == case_id)
                                         .order_by(CaseParticipant.id)))

    @staticmethod
    def visible_agencies(principal: Principal, case: Case) -> frozenset[str] | None:
        """Whose data `principal` sees in `case` now; None for all (internal actors)."""
        if is_system(principal):
            return None
        shared = sharing_agencies(case.consent)
        return shared | {principal.agency} if principal.agency in shared else frozenset({principal.agency})

    def visible_data(self, principal: Principal, case: Case) -> dict:
        """The case data `principal` may see: their agency's, keys no agency wrote, and the rest under consent."""
        agencies = self.visible_agencies(principal, case)
        if agencies is None:
            return dict(case.data)
        origin = case.data_origin or {}
        return {k: v for k, v in case.data.items() if origin.get(k) is None or origin[k] in agencies}

    def actionable_tasks(self, query, principal: Principal):
        """`query` over UserTask narrowed to the tasks `principal` may act on (the rule of may_act, in SQL)."""
        if is_system(principal):
            return query
        if not acts_in_cases(principal):
            return query.where(false())
        mine = exists().where(CaseParticipant.case_id == UserTask.case_id, *same_person(principal.key))
        in_role = exists().where(CaseParticipant.case_id == UserTask.case_id, *same_person(principal.key),
                                 CaseParticipant.role == UserTask.candidate_group)
        agency_taken = exists().where(CaseParticipant.case_id == UserTask.case_id,
                                      CaseParticipant.role == UserTask.candidate_group,
                                      CaseParticipant.agency == (principal.agency or ""))

        def at(reach, case_id=UserTask.case_id):
            units = self.reach_units(principal, reach)
            return case_id.in_(select(Case.id).where(func.coalesce(Case.unit, NO_UNIT).in_(units)))

        def seated(group, seat_column, case_id, in_role, agency_taken):
            """The rule of may_act for a task (or part) of role `group` whose lane declares `seat_column`."""
            seat = func.coalesce(seat_column, "unit")
            return (group.in_(principal.role_ids) & (
                in_role | ((seat == "unit") & at("unit", case_id)) | ((seat == "area") & at("area", case_id)) |
                ((seat == "agency") & at("area", case_id) & ~agency_taken))) | ((seat == "appointed") & in_role)
        part_in_role = exists().where(CaseParticipant.case_id == TaskPart.case_id, *same_person(principal.key),
                                      CaseParticipant.role == TaskPart.role)
        part_agency_taken = exists().where(CaseParticipant.case_id == TaskPart.case_id,
                                           CaseParticipant.role == TaskPart.role,
                                           CaseParticipant.agency == (principal.agency or ""))
        my_part = exists().where(TaskPart.task_id == UserTask.id, TaskPart.state == "open",
                                 TaskPart.agency.is_(None) | (TaskPart.agency == (principal.agency or "")),
                                 seated(TaskPart.role, TaskPart.seat, TaskPart.case_id, part_in_role,
                                        part_agency_taken))
        return query.where(seated(UserTask.candidate_group, UserTask.seat, UserTask.case_id, in_role, agency_taken)
                           | (UserTask.candidate_group.is_(None) & mine) | my_part)

    @staticmethod
    def member_cases(query, principal: Principal):
        """`query` over Case narrowed to the cases `principal` participates in."""
        if is_system(principal):
            return query
        if not acts_in_cases(principal):
            return query.where(false())
        return query.where(Case.id.in_(select(CaseParticipant.case_id).where(*same_person(principal.key))))
