"""Seats of a case as the model declares them (engine.core.seats): a new case's unit, appointments made by a
step's form, adding people, handing a seat over — every person checked against the directory."""
from __future__ import annotations

from sqlalchemy import select

from engine.access import audit, directory
from engine.access.identity import Principal
from engine.access.policy import PARTICIPANT_ROLE, NO_UNIT, same_person
from engine.bpmn.runner import StepRecord
from engine.casework.suspension import refuse_if_suspended
from engine.core.errors import Conflict, FieldError, InvalidInput, InvalidTransition, NotFound, Refused
from engine.core.models import Case, CaseParticipant, Person, UserTask
from engine.core.roles import role_id
from engine.core.seats import Declarations, Seat


def case_unit(declared: Declarations, principal: Principal, data: dict, requested: str | None,
              default_unit: str) -> str:
    """The unit a new case belongs to: from its start data, the setting, or the starter's (one of theirs)."""
    source = declared.case_unit
    if source.startswith("data:"):
        value = data.get(source[5:])
        if isinstance(value, str) and value:
            return value[:200]
    if source == "setting" or not principal.units:
        return requested or default_unit or NO_UNIT
    if requested:
        if requested not in principal.units:
            raise InvalidInput("a case belongs to one of your units",
                               [FieldError("/unit", f"one of: {', '.join(sorted(principal.units))}")])
        return requested
    if len(principal.units) > 1:
        raise InvalidInput("you work at several units: name the case's",
                           [FieldError("/unit", f"one of: {', '.join(sorted(principal.units))}")])
    return next(iter(principal.units))


def _named_people(value) -> list:
    return value if isinstance(value, list) else [value] if isinstance(value, dict) else []


class Seats:
    """Seat changes of one request, over a CaseService (engine.casework.cases imports this module, so the type
    is not imported back)."""

    def __init__(self, cases):
        self.cases, self.session = cases, cases.session

    def declared(self, case: Case) -> Declarations:
        return self.cases.spec_for(self.cases.version_of(case)).declared

    def person_named(self, person_id: str | None, user: str | None, agency: str | None, where: str,
                     role: str | None = None) -> Person:
        """The directory person a request names, by directory id or by user name at an agency; 422 otherwise."""
        if person_id:
            person = self.session.get(Person, person_id)
            if person is None or not person.active:
                raise InvalidInput("no such person in the directory", [FieldError(where, f"unknown person {person_id}")])
            return person
        found = directory.named(self.session, user or "", agency, role)
        if len(found) != 1:
            reason = "nobody" if not found else "more than one person"
            raise InvalidInput(f"{reason} in the directory is {user!r} of {agency!r}",
                               [FieldError(where, f"{reason} in the directory matches; name them by person_id")])
        return found[0]

    def add_participant(self, principal: Principal, case_id: str, role: str, person_id: str | None = None,
                        user: str | None = None, agency: str | None = None) -> CaseParticipant:
        """Give a person of the directory a role in the case (one of the process's roles), as the model allows."""
        case = self.cases.access.allowed(principal, case_id, self.cases._declared(case_id).grants("add_participant"),
                                         "add participant", "add participants")
        roles = self.cases._spec_of(case).candidate_groups | {PARTICIPANT_ROLE}
        if role_id(role) not in roles:
            raise InvalidInput(f"{role!r} is not a role of {case.process_key}",
                               [FieldError("/role", f"one of: {', '.join(sorted(roles))}")])
        role = role_id(role)
        person = self.person_named(person_id, user, agency, "/person_id" if person_id else "/user")
        self.check_added(case, role, person, "/person_id" if person_id else "/user")
        audit.record(self.session, self.cases.clock, principal, [case_id], "write",
                     f"participant {person.user_name} {role}")
        self.cases.access.join(principal, case_id, role, "added", person=person)
        return self.session.scalar(select(CaseParticipant).where(
            CaseParticipant.case_id == case_id, *same_person((person.issuer, person.subject)),
            CaseParticipant.role == role))

    def remove_participant(self, principal: Principal, case_id: str, participant_id: int) -> None:
        """Take a role in the case from someone: yourself, or someone you added. Their claims on open tasks go;
        their access ends at their next request."""
        case = self.cases.access.member(principal, case_id, "remove participant")
        row = self.session.get(CaseParticipant, participant_id)
        if row is None or row.case_id != case_id:
            raise NotFound(f"no participant {participant_id} in case {case_id}")
        if principal.key != (row.issuer, row.subject) and row.added_by != principal.user:
            raise Refused("you can take a role from yourself or from someone you added")
        self._step_down(case, row)
        audit.record(self.session, self.cases.clock, principal, [case_id], "write", f"removed participant {row.user}")

    def person(self, named: dict, where: str, role: str | None = None) -> Person:
        """The directory person a form's person object names: by `person_id`, else (anvandare, verksamhet)."""
        if named.get("person_id"):
            return self.person_named(named["person_id"], None, None, where + "/person_id")
        return self.person_named(None, named.get("anvandare"), named.get("verksamhet"), where + "/anvandare", role)

    def check_rules(self, case: Case, seat: Seat, people: list[tuple[Person, str]]) -> None:
        """The model's rules about who may hold `seat`, checked against the directory; 422 naming the rule."""
        errors = []
        for person, where in people:
            barred = sorted(r for r in seat.not_held_with if directory.holds(person, r))
            if barred:
                errors.append(FieldError(where, f"{person.user_name} holds the role {', '.join(barred)} in the "
                                                f"directory; the rule of the seat {seat.lane}: its holder may not be "
                                                f"{' or '.join(sorted(seat.not_held_with))}"))
            for field in seat.not_case_person:
                named = (case.data or {}).get(field)
                if isinstance(named, dict) and self._same(named, person):
                    errors.append(FieldError(where, f"{person.user_name} is the case's {field}; the rule of the seat "
                                                    f"{seat.lane}: its holder may not be the case's {field}"))
        if errors:
            raise InvalidInput(f"the seat {seat.lane}: {errors[0].message}", errors)

    def _same(self, named: dict, person: Person) -> bool:
        """Whether a form's person object (case data) names `person` in the directory."""
        if named.get("person_id"):
            return named["person_id"] == person.id
        return [p.id for p in directory.named(self.session, named.get("anvandare") or "", named.get("verksamhet"))] \
            == [person.id]

    def appointments(self, case: Case, step: str, data: dict, strict: bool = True) -> dict[str, list]:
        """role -> the people `data` (a completed step's form) appoints to it, each checked; 422 otherwise.
        Not `strict` (a simulation, whose people are nobody's), people the directory does not know are left out."""
        declared, found = self.declared(case), {}
        for role, fields in declared.appointments(step).items():
            people, seat = [], declared.seats[role]
            for name in fields:
                for i, named in enumerate(_named_people(data.get(name))):
                    where = f"/data/{name}/{i}" if isinstance(data.get(name), list) else f"/data/{name}"
                    try:
                        people.append((self.person(named, where, role), where))
                    except InvalidInput:
                        if strict:
                            raise
            self._distinct(seat, people)
            people = list({p.id: (p, where) for p, where in reversed(people)}.values())[::-1]  # once each
            if people:
                self.check_rules(case, declared.seats[role], people)
                found[role] = people
        return found

    @staticmethod
    def _distinct(seat: Seat, people: list[tuple[Person, str]]) -> None:
        """The seat's `distinct` fields name different people of the directory; 422 naming the rule otherwise."""
        seen: dict[str, str] = {}
        for person, where in people:
            field = where.split("/")[2]
            if field not in seat.distinct:
                continue
            if person.id in seen and seen[person.id] != field:
                fields = " and ".join(seat.distinct)
                raise InvalidInput(f"the seat {seat.lane}: {fields} must be different people",
                                   [FieldError(where, f"{person.user_name} is named in {seen[person.id]} too; the "
                                                      f"rule of the seat {seat.lane}: {fields} are different people")])
            seen.setdefault(person.id, field)

    def appoint(self, principal: Principal, case: Case, step: str | None, found: dict) -> None:
        """Make the appointed people the seats' holders (from now; earlier appointees of the seat step down);
        `step` is the step whose form appointed them, None for a direct appointment."""
        for role, people in found.items():
            keep = {(p.issuer, p.subject) for p, _ in people}
            for row in self.holders(case.id, role):
                if (row.issuer, row.subject) not in keep and row.source in ("appointed", "handed_over"):
                    self._step_down(case, row)
            for person, _ in people:
                self.cases.access.join(principal, case.id, role, "appointed", person=person)
            self.cases.record_history(case, principal, self.cases.clock.now(), StepRecord(
                "seat_appointed", step, self.declared(case).seats[role].lane, "Lane", details={"role": role,
                                                               "holders": sorted(p.user_name for p, _ in people)}))

    def appoint_directly(self, principal: Principal, case_id: str, role: str, person_id: str | None,
                         user: str | None = None, agency: str | None = None) -> Case:
        """Appoint a person of the directory to the appointed seat `role`, if the model lets your role appoint it
        (`appointed_by = ROLE@unit`, e.g. the rektor the kontaktperson); they hold it from now, earlier appointees
        step down. The seat's rules are checked against the directory (422 naming the rule)."""
        role = role_id(role) or ""
        case = self.session.get(Case, case_id)
        seat = self.declared(case).seat(role) if case is not None else None
        grants = seat.appointers if seat else ()
        case = self.cases.access.allowed(principal, case_id, grants, f"appoint {role}", f"appoint the seat {role}")
        where = "/person_id" if person_id else "/user"
        person = self.person_named(person_id, user, agency, where)
        self.check_rules(case, seat, [(person, where)])
        if case.status != "open":
            raise InvalidTransition(f"case {case_id} is {case.status}")
        refuse_if_suspended(case, "appointing a seat")
        self.appoint(principal, case, None, {role: [(person, where)]})
        audit.record(self.session, self.cases.clock, principal, [case_id], "write", f"seat {role} appointed")
        case.updated_at = self.cases.clock.now()
        self.session.flush()
        return case

    def holders(self, case_id: str, role: str) -> list[CaseParticipant]:
        return list(self.session.scalars(select(CaseParticipant).where(
            CaseParticipant.case_id == case_id, CaseParticipant.role == role).order_by(CaseParticipant.id)))

    def _step_down(self, case: Case, row: CaseParticipant) -> None:
        """`row`'s person leaves the seat: their claims on its open tasks go too."""
        person = directory.find(self.session, row.issuer, row.subject)
        for task in self.session.scalars(select(UserTask).where(
                UserTask.case_id == case.id, UserTask.state == "open", UserTask.candidate_group == row.role,
                UserTask.assignee_id == (person.id if person else None))):
            task.assignee = task.assignee_id = None
        self.session.delete(row)
        self.session.flush()
        self.cases.access.forget(case.id, (row.issuer, row.subject))

    def check_added(self, case: Case, role: str, person: Person, where: str) -> None:
        """Whether `person` may be added in `role`: they hold it in the directory, and the seat is not appointed."""
        seat = self.declared(case).seat(role)
        if role != PARTICIPANT_ROLE and not directory.holds(person, role):
            raise InvalidInput(f"{person.user_name} does not hold the role {role} in the directory",
                               [FieldError(where, f"the directory gives {person.user_name} no role {role}")])
        if seat is None:
            return
        if seat.kind == "appointed":
            steps = "; ".join(f"{s}: {', '.join(f)}" for s, f in seat.appointed_by.items())
            raise InvalidInput(f"the seat {seat.lane} is appointed ({steps}); hand it over instead of adding people",
                               [FieldError("/role", f"the seat {seat.lane} is appointed")])
        if seat.kind == "agency" and self.cases.access.agency_seat_taken(case.id, role, person.agency):
            raise Conflict(f"the seat {seat.lane} of {person.agency} in this case is taken (one per agency)")
        self.check_rules(case, seat, [(person, where)])

    def hand_over(self, principal: Principal, case_id: str, role: str, participant_id: int, person_id: str | None,
                  user: str | None = None, agency: str | None = None) -> Case:
        """Hand the seat `role` held by participant `participant_id` to a person of the directory, as the model
        allows."""
        role = role_id(role) or ""
        case = self.session.get(Case, case_id)
        seat = self.declared(case).seat(role) if case is not None else None
        grants = seat.handed_over_by if seat else ()
        case = self.cases.access.allowed(principal, case_id, grants, f"hand over {role}", f"hand over the seat {role}")
        if seat is None:
            raise NotFound(f"the process declares no seat {role}")
        person = self.person_named(person_id, user, agency, "/person_id" if person_id else "/user",
                                   role if seat.kind != "appointed" else None)
        row = self.session.get(CaseParticipant, participant_id)
        if row is None or row.case_id != case_id or row.role != role:
            raise NotFound(f"participant {participant_id} holds no seat {role} in case {case_id}")
        if self.session.scalar(select(CaseParticipant.id).where(CaseParticipant.case_id == case_id,
                                                                CaseParticipant.role == role,
                                                                *same_person((person.issuer, person.subject)))):
            raise Conflict(f"{person.user_name} already holds the seat {role} in this case")
        self.check_rules(case, seat, [(person, "/person_id")])
        if seat.kind != "appointed" and not directory.holds(person, role):
            raise InvalidInput(f"{person.user_name} does not hold the role {role} in the directory",
                               [FieldError("/person_id", f"the directory gives {person.user_name} no role {role}")])
        source = row.source
        self._step_down(case, row)
        self.cases.access.join(principal, case_id, role, "handed_over" if source == "appointed" else source,
                               person=person)
        now = self.cases.clock.now()
        self.cases.record_history(case, principal, now, StepRecord(
            "seat_handed_over", None, seat.lane, "Lane", details={"role": role, "from": row.user,
                                                                  "to": person.user_name}))
        audit.record(self.session, self.cases.clock, principal, [case_id], "write", f"seat {role} handed over")
        case.updated_at = now
        self.session.flush()
        return case
