"""Business keys: what a case is found by when a fact comes in, and where each key may come from.

- `barn`: the child, by the child registry's id. Set when a case starts with `barn_personnummer`
  (or is started by another case about the same child); never from start data.
- `elev`: a pupil of one school, `SCHOOL/REFERENCE` (the school as a slug). Pupil references are
  unique only within a school, so the school is part of the key. Set by the absence import that
  started the case (a client scoped to that school), or by a start form that declares it
  (`"x-samverka-key": "elev"`: its fields `skola` and `elev`).

Keys are recorded when a case starts and dropped when it closes. Two open cases of one process
never hold the same key: the second start is a conflict (checked, and held by a unique index).
A correlation selects cases by exactly these: `case_id`, `barn`, `personnummer`, or `skola` with
`elev`; `process_key` only narrows.
"""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.errors import Conflict, FieldError, InvalidInput
from engine.core.models import Case, CaseCorrelation, Child
from engine.core.roles import role_id

KEYS = ("barn", "elev")
SELECTORS = ("case_id", "barn", "personnummer", "elev")  # `elev` always with `skola`
NARROWING = ("process_key", "skola")


def pupil_key(school: str, pupil: str) -> str:
    """The `elev` key of a pupil: their reference within their school."""
    return f"{role_id(school) or ''}/{pupil}"[:200]


def claim(session: Session, case: Case, keys: dict[str, str]) -> None:
    """Record `case`'s keys; Conflict if an open case of the same process holds one of them already."""
    for key, value in keys.items():
        holder = session.scalar(select(CaseCorrelation.case_id).where(
            CaseCorrelation.process_key == case.process_key, CaseCorrelation.key == key,
            CaseCorrelation.value == value))
        if holder is not None and holder != case.id:
            raise _taken(case.process_key, key)
        if holder is None:
            session.add(CaseCorrelation(case_id=case.id, key=key, value=value, process_key=case.process_key))
    try:
        session.flush()
    except IntegrityError:  # another transaction claimed it between the check and the insert
        raise _taken(case.process_key, key) from None


def _taken(process_key: str, key: str) -> Conflict:
    what = "child" if key == "barn" else "pupil"
    return Conflict(f"an open {process_key} case for this {what} exists already; "
                    "a second one would split the facts that come in between them")


def release(session: Session, case: Case) -> None:
    """A closed case is found by no message: its keys go."""
    session.execute(delete(CaseCorrelation).where(CaseCorrelation.case_id == case.id))


def validate(correlation: dict) -> dict:
    """The correlation as keys to match; InvalidInput naming the field if it selects no case."""
    unknown = sorted(set(correlation) - {*SELECTORS, *NARROWING})
    if unknown:
        raise InvalidInput("the correlation has keys samverka does not correlate by", [FieldError(
            f"/correlation/{unknown[0]}", f"unknown key; use {', '.join(SELECTORS)} (elev with skola), "
                                          "narrowed by process_key")])
    if ("elev" in correlation) != ("skola" in correlation):
        missing = "skola" if "elev" in correlation else "elev"
        raise InvalidInput("a pupil reference is unique only within its school", [FieldError(
            f"/correlation/{missing}", "elev and skola are given together")])
    if not set(correlation) & set(SELECTORS):
        raise InvalidInput("the correlation selects no case", [FieldError(
            "/correlation", "name the case (case_id), the child (barn or personnummer) or the pupil "
                            "(skola and elev); process_key alone would reach every case of the process")])
    return correlation


def matching(session: Session, correlation: dict, pnr_hash: str | None = None):
    """A query for the open cases the (validated) correlation selects: (case id, process key)."""
    query = select(Case.id, Case.process_key).where(Case.status == "open")
    if "case_id" in correlation:
        query = query.where(Case.id == str(correlation["case_id"]))
    if "process_key" in correlation:
        query = query.where(Case.process_key == str(correlation["process_key"]))
    if pnr_hash is not None:
        query = query.where(Case.child_id.in_(select(Child.id).where(Child.pnr_hash == pnr_hash)))
    wanted = {"barn": correlation.get("barn")}
    if "elev" in correlation:
        wanted["elev"] = pupil_key(correlation["skola"], correlation["elev"])
    for key, value in wanted.items():
        if value is not None:
            query = query.where(Case.id.in_(select(CaseCorrelation.case_id).where(
                CaseCorrelation.key == key, CaseCorrelation.value == str(value))))
    return query.order_by(Case.created_at, Case.id)
