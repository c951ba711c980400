"""Who holds a case's seats and who may do its case-wide actions, as a process model declares them.

Each lane of a process is a seat (its role). A lane declares, in its Camunda extension properties:

- `seat`: `appointed` (held by the people a step's form names, from the moment of appointment), `unit`
  (open to the role's holders at the case's unit; the default), `area` (open to the role's holders at the
  case's unit or its area, e.g. social services of the child's area), or `agency` (one holder per agency,
  whoever of that agency acts first, at the case's unit or area).
- `appointed_by`: `STEP: FIELD, FIELD; STEP: FIELD; GRANT, GRANT` — the form fields (a person, or a list of
  people) of the steps that appoint the seat's holders, and/or the grants (below) of people who appoint them
  directly (`POST /cases/{id}/seats/{role}/appointments`: the rektor appoints the kontaktperson). An appointed
  seat needs one or the other.
- `handed_over_by`: grants (below) who may hand the seat over to another person; recorded in history.
- `not_held_with`: roles a holder of this seat may not hold in the directory (a rektor may not be kontaktperson).
- `not_case_person`: case data fields naming a person who may not hold the seat (not the case's handläggare).
- `distinct`: form fields that must name different people (per the directory: koordinator 1 and 2).
- `may`: the case-wide actions this lane's role may take: `cancel`, `add_participant`,
  `message:NAME` — each optionally `@unit` or `@area` for the role's holders there, participant or not
  (plain: a participant in this role).

A user task may declare parts for other seats, one `part` property each (the Modeler's *Extension properties* of
the task): `NAME: ROLE[, agency=AGENCY][, required][, form=FORMKEY]`. A holder of ROLE, as ROLE's lane seats
them (of AGENCY only, if named), sees the task and does that part (`POST /tasks/{id}/parts/{NAME}`, validated
against FORMKEY); the task is completed by its own lane's seat, and only once every `required` part is done (a
part without `required` is offered). A part's data goes into the case data as NAME, written by its agency.

A grant is `ROLE`, `ROLE@unit` or `ROLE@area`. A process with no `may` anywhere lets every participant
take every case-wide action (models without lanes, and fixtures).
"""
from __future__ import annotations

from dataclasses import dataclass, field

SEAT_KINDS = ("appointed", "unit", "area", "agency")
REACHES = ("participant", "unit", "area")
ACTIONS = ("cancel", "add_participant")  # and message:NAME


@dataclass(frozen=True)
class Grant:
    """Who a right or a handover is given to: holders of `role` in the case (participant) or at its unit/area."""

    role: str
    reach: str = "participant"

    def __str__(self) -> str:
        return self.role if self.reach == "participant" else f"{self.role}@{self.reach}"


@dataclass(frozen=True)
class Seat:
    """One lane's seat in a case."""

    role: str
    lane: str  # the lane's name, for messages
    kind: str = "unit"
    appointed_by: dict[str, tuple[str, ...]] = field(default_factory=dict)  # step id -> form fields
    appointers: tuple[Grant, ...] = ()  # who appoints the holders directly, not through a step's form
    handed_over_by: tuple[Grant, ...] = ()
    not_held_with: frozenset[str] = frozenset()
    not_case_person: tuple[str, ...] = ()
    distinct: tuple[str, ...] = ()


@dataclass(frozen=True)
class Part:
    """One seat's part of a user task."""

    name: str  # also the case data key of its data
    role: str
    agency: str | None = None
    required: bool = False
    form_key: str | None = None


@dataclass(frozen=True)
class Declarations:
    """Every seat of a process and who may take each case-wide action."""

    seats: dict[str, Seat] = field(default_factory=dict)  # role -> seat
    rights: dict[str, tuple[Grant, ...]] | None = None  # action -> grants; None: every participant may
    case_unit: str = "starter"  # where a case's unit comes from: starter | data:FIELD | setting
    parts: dict[str, tuple[Part, ...]] = field(default_factory=dict)  # user task id -> its parts

    def seat(self, role: str | None) -> Seat | None:
        return self.seats.get(role) if role else None

    def grants(self, action: str) -> tuple[Grant, ...] | None:
        """Who may take `action`; None if the process declares no rights (every participant may)."""
        return None if self.rights is None else self.rights.get(action, ())

    def appointments(self, step: str) -> dict[str, tuple[str, ...]]:
        """role -> the form fields of `step` that appoint its holders."""
        return {role: seat.appointed_by[step] for role, seat in self.seats.items() if step in seat.appointed_by}


NONE = Declarations()
