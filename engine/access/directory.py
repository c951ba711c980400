"""The directory of people: who they are (issuer + subject), their agency, units and roles.

A person is identified by the issuer and subject of their token, never by a bare user name: `anna` of one
identity provider is not `anna` of another. The directory is kept two ways:

- **sign-in** (`managed_by="sign-in"`): every request of a person updates their row from the token's claims
  (agency, units, roles; the roles claim may be a nested path, `SAMVERKA_OIDC_ROLES_CLAIM=realm_access.roles`).
- **SCIM** (`managed_by="scim"`): the identity provider provisions the person (engine.access via api/routes/scim);
  their agency, units, roles and `active` come from the directory, whatever a token claims. A SCIM person
  signs in with issuer = `SAMVERKA_OIDC_ISSUER` and subject = the token's `sub`, which must equal the
  `subject` SCIM gave them (the SCIM routes set it from `externalId`, else `userName`).

Interface (used by api/deps.py for every request, and by the SCIM routes):

- `Person` (engine.core.models, table `person`): id (uuid string), issuer, subject (unique together),
  user_name, display_name, agency, units (JSON list), roles (JSON list), active, managed_by ("sign-in" |
  "scim"), external_id, attributes (other SCIM attributes, JSON or None), created_at, updated_at.
- `remember(session, principal, clock=None) -> Person`: upsert from sign-in claims; a SCIM-managed person's
  roles, units, agency and active are never overwritten by claims.
- `find(session, issuer, subject) -> Person | None`; `get(session, person_id) -> Person` (NotFound).
- `provision(session, clock, issuer=, subject=, user_name=, ...) -> Person`: create or update a SCIM-managed
  person (the SCIM routes' one write; a sign-in person it names becomes SCIM-managed).
- `effective(session, principal, clock=None) -> Principal`: the principal as the directory knows it
  (remembering them first): a deactivated person is refused with `Deactivated` (a Refused, answered 401 by
  api/deps); a SCIM-managed person's roles, agency and units come from the directory; `person_id` is set.
  Internal actors and API keys are not people and come back unchanged.
- `named(session, user_name, agency, role=None) -> list[Person]`: the active people a form's (anvandare,
  verksamhet) may mean (no verksamhet: those holding `role`); callers refuse none or several (a bare user
  name never identifies anyone on its own).
- `holds(person, role)`: whether the directory gives the person the role (the rules about a person, such as
  "a rektor may not be kontaktperson", ask this, not what a form says about them).
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timezone

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.access.identity import Principal
from engine.core.clock import Clock
from engine.core.errors import NotFound, Refused
from engine.core.models import Person
from engine.core.roles import role_id

SIGN_IN, SCIM = "sign-in", "scim"
CHANGED = "directory.changed"  # session.info flag: remember() wrote, so api/deps commits it before the request's work
INTERNAL_ROLE = "system"  # never given by the directory, like no token may carry it


class Deactivated(Refused):
    """The person is deactivated in the directory: no request of theirs is served (401)."""


def is_person(principal: Principal) -> bool:
    """A person who signed in with a token (not an API key, the worker, a simulation or the CLI)."""
    return principal.client == "token" or principal.client.startswith("oidc:")


def _now(clock: Clock | None) -> datetime:
    return clock.now() if clock is not None else datetime.now(timezone.utc)


_FIND = select(Person).where(Person.issuer == bindparam("issuer"), Person.subject == bindparam("subject"))  # built once:
# every request reads the caller's row


def find(session: Session, issuer: str, subject: str) -> Person | None:
    """The person with this issuer and subject, if the directory knows them."""
    return session.scalar(_FIND, {"issuer": issuer, "subject": subject})


def get(session: Session, person_id: str) -> Person:
    """The person with this directory id; NotFound otherwise."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id}")
    return person


def holds(person: Person, role: str) -> bool:
    """Whether the directory gives `person` the role (compared in the one naming scheme of engine.roles)."""
    return role_id(role) in {role_id(r) for r in person.roles}


def _claimed(principal: Principal) -> dict:
    return {"user_name": principal.user, "agency": principal.agency, "units": sorted(principal.units),
            "roles": sorted(r for r in principal.roles if role_id(r) != INTERNAL_ROLE)}


def _changed(person, claimed: dict) -> bool:
    """Whether the sign-in claims differ from what the directory row holds."""
    return any(getattr(person, k) != v for k, v in claimed.items())


def remember(session: Session, principal: Principal, clock: Clock | None = None) -> Person:
    """The person `principal` is, created or updated from their sign-in claims (SCIM-managed people keep theirs)."""
    issuer, subject = principal.key
    person = find(session, issuer, subject)
    claimed = _claimed(principal)
    if person is None:
        now = _now(clock)
        person = Person(id=str(uuid.uuid4()), issuer=issuer, subject=subject, display_name=None, active=True,
                        managed_by=SIGN_IN, external_id=None, created_at=now, updated_at=now, **claimed)
        try:
            with session.begin_nested():  # the same person's first two requests at once: one row, both served
                session.add(person)
            session.info[CHANGED] = True
        except IntegrityError:
            person = find(session, issuer, subject)
        return person
    if person.managed_by == SIGN_IN and _changed(person, claimed):
        for name, value in claimed.items():
            setattr(person, name, value)
        person.updated_at = _now(clock)
        session.flush()
        session.info[CHANGED] = True
    return person


def provision(session: Session, clock: Clock | None, *, issuer: str, subject: str, user_name: str,
              display_name: str | None = None, agency: str | None = None, units: list[str] | None = None,
              roles: list[str] | None = None, active: bool = True, external_id: str | None = None,
              attributes: dict | None = None, person_id: str | None = None) -> Person:
    """Create or update a SCIM-managed person (found by `person_id`, else issuer + subject)."""
    person = session.get(Person, person_id) if person_id else find(session, issuer, subject)
    now = _now(clock)
    if person is None:
        person = Person(id=person_id or str(uuid.uuid4()), created_at=now)
        session.add(person)
    person.issuer, person.subject, person.user_name, person.display_name = issuer, subject, user_name, display_name
    person.agency, person.units, person.active = agency, sorted(units or []), active
    person.roles = sorted(r for r in roles or [] if role_id(r) != INTERNAL_ROLE)
    person.managed_by, person.external_id, person.attributes, person.updated_at = SCIM, external_id, attributes, now
    session.flush()
    return person


# What `effective` needs of the caller's row, as plain columns: every request reads it, and loading it as an ORM
# object costs a twentieth of a task completion's CPU (issue 19). The object is loaded only to change the row. A
# Core statement of the table's columns, run on the connection: through the ORM's execute, even plain columns
# cost a further 3 % of a completion's CPU.
_PEOPLE = Person.__table__.c
_SEEN = select(_PEOPLE.id, _PEOPLE.active, _PEOPLE.managed_by, _PEOPLE.agency, _PEOPLE.roles, _PEOPLE.units,
               _PEOPLE.user_name).where(_PEOPLE.issuer == bindparam("issuer"), _PEOPLE.subject == bindparam("subject"))


def effective(session: Session, principal: Principal, clock: Clock | None = None,
              may_write: bool = True) -> Principal | None:
    """The principal as the directory knows them; Deactivated if the directory says they may not act. Without
    `may_write`, None where their row must first be created or changed (a first sign-in, changed claims)."""
    if not is_person(principal):
        return principal
    issuer, subject = principal.key
    person = session.connection().execute(_SEEN, {"issuer": issuer, "subject": subject}).first()
    if person is None or (person.managed_by == SIGN_IN and _changed(person, _claimed(principal))):
        if not may_write:
            return None
        person = remember(session, principal, clock)
    if not person.active:
        raise Deactivated("this person is deactivated in the directory")
    if person.managed_by == SCIM:
        return replace(principal, agency=person.agency, roles=frozenset(person.roles),
                       units=frozenset(person.units), person_id=person.id)
    return replace(principal, person_id=person.id)


def named(session: Session, user_name: str, agency: str | None, role: str | None = None) -> list[Person]:
    """The active people with this user name at this agency — or, with no agency (a språkrör may be outside
    every agency), those holding `role`; callers refuse none or several (a user name alone identifies nobody)."""
    query = select(Person).where(Person.user_name == user_name, Person.active.is_(True))
    if agency is not None or role is None:
        return list(session.scalars(query.where(Person.agency == agency).limit(2)))
    return [p for p in session.scalars(query.limit(50)) if holds(p, role)][:2]
