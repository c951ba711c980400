"""Business keys: what a case can be found by when a message or report comes in."""
from __future__ import annotations

from sqlalchemy.orm import Session

from engine.core.models import Case, CaseCorrelation

# Business keys a case can be found by; set from the case's data when a step records them.
CORRELATION_KEYS = ("barn",)


def record_keys(session: Session, case: Case, changed: dict) -> None:
    """Keep a case's correlation rows in step with the business keys a step just set."""
    for key in CORRELATION_KEYS:
        if key in changed and isinstance(changed[key], (str, int)):
            session.merge(CaseCorrelation(case_id=case.id, key=key, value=str(changed[key])[:200]))
