"""Messages in: a BPMN message to the one case its correlation selects, once per Idempotency-Key.

A correlation selects cases by key (engine.casework.correlation). The candidates are the open
cases it selects that the sender may reach and whose process knows the message: for a client
the processes its `messages:PROCESS` scopes name, for a person the cases they take part in.
Cases outside that are invisible, never refusals that would tell they exist. One candidate gets
the message; several are a conflict that reveals nothing about them, unless the sender asks for
all (`all: true`, scope `messages-all:PROCESS`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING


from engine.access.identity import Principal
from engine.access.policy import has_scope, is_client
from engine.casework import correlation, idempotency
from engine.core.errors import Conflict, InvalidTransition, NotFound, Refused
from engine.core.models import Case, ProcessVersion

if TYPE_CHECKING:
    from engine.casework.cases import CaseService

ALL_SCOPE = "messages-all"


class MessageService:
    """Correlate and deliver; the caller owns the transaction, so delivery and idempotency record commit together."""

    def __init__(self, cases: CaseService):
        self.cases, self.session = cases, cases.session

    def _candidates(self, principal: Principal, name: str, wanted: dict, pnr_hash: str | None,
                    to_all: bool) -> list[str]:
        query = correlation.matching(self.session, wanted, pnr_hash)
        found = []
        for case_id, process_key in self.session.execute(query):
            reachable = has_scope(principal, ALL_SCOPE if to_all else "messages", process_key) \
                if is_client(principal) else not to_all and self._knows(principal, case_id, name)
            if reachable and name in self.cases.spec_for(self._version(case_id)).messages:
                found.append(case_id)
        return found

    def _knows(self, principal: Principal, case_id: str, name: str) -> bool:
        """A caseworker's candidates: cases they take part in, or whose model lets them send `name` unasked
        (a socialsekreterare of the case's area starting myndighetsutövning)."""
        access = self.cases.access
        if access.roles_in(case_id, principal.key):
            return True
        case = self.session.get(Case, case_id)
        return access.may(principal, case, self.cases.spec_for(self._version(case_id)).declared.grants(f"message:{name}"))

    def _version(self, case_id: str) -> ProcessVersion:
        return self.session.get(ProcessVersion, self.session.get(Case, case_id).process_version_id)

    def send(self, principal: Principal, name: str, wanted: dict, data: dict,
             idempotency_key: str | None = None, to_all: bool = False) -> dict:
        """Deliver to the one open case the correlation selects (or all, if asked); a retried key returns the first
        answer."""
        correlation.validate(wanted)
        if to_all and not (is_client(principal) and any(s.startswith(f"{ALL_SCOPE}:") or s in ("*", ALL_SCOPE)
                                                         for s in principal.scopes)):
            raise Refused(f"delivering to every matching case needs an integration client with the scope "
                          f"{ALL_SCOPE}:PROCESS")
        hashed_pnr = None
        if "personnummer" in wanted:  # kept only as its keyed hash, even inside the request's hash
            pnr = self.cases.children.normalized(wanted["personnummer"], "/correlation/personnummer")
            hashed_pnr = self.cases.children.lookup_hash(pnr)
        request = idempotency.request_hash(name, {**wanted, "personnummer": hashed_pnr}, data, to_all)
        if (prior := idempotency.replay(self.session, principal, idempotency_key, request)) is not None:
            return prior
        if (prior := idempotency.claim(self.session, self.cases.clock, principal, idempotency_key, request)):
            return prior
        candidates = self._candidates(principal, name, wanted, hashed_pnr, to_all)
        if len(candidates) > 1 and not to_all:
            raise Conflict("the correlation fits more than one case; name the case (case_id) or the process "
                           f"(process_key), or deliver to all with \"all\": true (scope {ALL_SCOPE}:PROCESS)")
        delivered = []
        for case_id in candidates:
            try:
                self.cases.deliver(principal, case_id, name, data)
            except (InvalidTransition, NotFound):
                continue  # this case is not waiting for the message now
            delivered.append(case_id)
        if not delivered:
            raise NotFound(f"no open case matching the correlation is waiting for the message {name}")
        response = {"name": name, "delivered_to": delivered}
        idempotency.remember(self.session, self.cases.clock, principal, idempotency_key, request, response)
        return response
