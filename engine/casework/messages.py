"""Messages in: deliver a BPMN message to the waiting case(s) its correlation names, once per Idempotency-Key."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.identity import Principal
from engine.casework.correlation import CORRELATION_KEYS
from engine.core.errors import FieldError, InvalidInput, InvalidTransition, NotFound
from engine.core.models import Case, CaseCorrelation, Child, IdempotencyRecord

if TYPE_CHECKING:
    from engine.casework.cases import CaseService


class MessageService:
    """Correlate and deliver; the caller owns the transaction, so delivery and idempotency record commit together."""

    def __init__(self, cases: CaseService):
        self.cases, self.session = cases, cases.session

    def _matching(self, correlation: dict) -> list[str]:
        unknown = sorted(set(correlation) - {"case_id", "process_key", "personnummer", *CORRELATION_KEYS})
        if unknown or not correlation:
            raise InvalidInput("the correlation names no known key", [FieldError(
                "/correlation", f"use case_id, process_key, personnummer or {', '.join(CORRELATION_KEYS)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else ""))])
        query = select(Case.id).where(Case.status == "open")
        if "case_id" in correlation:
            query = query.where(Case.id == str(correlation["case_id"]))
        if "process_key" in correlation:
            query = query.where(Case.process_key == str(correlation["process_key"]))
        if "personnummer" in correlation:  # by now its keyed hash (see send)
            child_ids = select(Child.id).where(Child.pnr_hash == correlation["personnummer"])
            query = query.where(Case.child_id.in_(child_ids))
        for key in CORRELATION_KEYS:
            if key in correlation:
                query = query.where(Case.id.in_(select(CaseCorrelation.case_id).where(
                    CaseCorrelation.key == key, CaseCorrelation.value == str(correlation[key]))))
        return list(self.session.scalars(query.order_by(Case.created_at, Case.id)))

    def send(self, principal: Principal, name: str, correlation: dict, data: dict,
             idempotency_key: str | None = None) -> dict:
        """Deliver to every matching case that waits for `name`; a retried key returns the first answer."""
        hashed = dict(correlation)
        if "personnummer" in correlation:  # kept only as its keyed hash, even inside the request's hash
            pnr = self.cases.children.normalized(correlation["personnummer"], "/correlation/personnummer")
            hashed["personnummer"] = self.cases.children.lookup_hash(pnr)
        request_hash = hashlib.sha256(json.dumps([name, hashed, data], sort_keys=True,
                                                 default=str).encode()).hexdigest()
        if idempotency_key:
            prior = self.session.get(IdempotencyRecord, (principal.user, idempotency_key))
            if prior is not None:
                if prior.request_hash != request_hash:
                    raise InvalidInput("this Idempotency-Key was used for a different request",
                                       [FieldError("/headers/Idempotency-Key", "reused with another body")])
                return prior.response
        delivered = []
        for case_id in self._matching(hashed):
            try:
                self.cases.deliver(principal, case_id, name, data)
            except (InvalidTransition, NotFound):
                continue  # this case is not waiting for the message (or its process has none)
            delivered.append(case_id)
        if not delivered:
            raise NotFound(f"no open case matching the correlation is waiting for the message {name}")
        response = {"name": name, "delivered_to": delivered}
        if idempotency_key:
            self.session.add(IdempotencyRecord(principal=principal.user, key=idempotency_key,
                                               request_hash=request_hash, response=response,
                                               created_at=self.cases.clock.now()))
        return response
