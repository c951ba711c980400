"""Children's identity numbers at rest: a keyed hash to find a child, a ciphertext to show the number.

A database dump holds neither the number nor anything it can be guessed back from without the
data key: the lookup hash is an HMAC (a plain hash of a ten-digit number with a check digit
is brute-forced in seconds), and the value is sealed with the data key (engine.sealing).
"""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import personnummer
from engine.access.sealing import sealer_for
from engine.core.clock import Clock
from engine.core.errors import FieldError, InvalidInput
from engine.core.models import Child
from engine.core.settings import Settings
from engine.core.walk import strings


class ChildRegistry:
    """Register and look up children by number; the caller owns the transaction."""

    def __init__(self, session: Session, clock: Clock, settings: Settings):
        self.session, self.clock = session, clock
        self.sealer = sealer_for(settings)

    def lookup_hash(self, pnr: str) -> str:
        return self.sealer.keyed_hash(pnr)

    def normalized(self, value: str, location: str) -> str:
        try:
            return personnummer.parse(value, self.clock.now().date())
        except personnummer.InvalidPersonnummer as exc:
            raise InvalidInput("not a valid personnummer or samordningsnummer", [FieldError(location, str(exc))]) from None

    def register(self, value: str, location: str = "/barn_personnummer") -> Child:
        """The child with this number, added if new."""
        pnr = self.normalized(value, location)
        child = self.find(pnr)
        if child is None:
            child = Child(id=str(uuid.uuid4()), pnr_hash=self.lookup_hash(pnr),
                          pnr_cipher=self.sealer.seal(pnr), created_at=self.clock.now())
            self.session.add(child)
            self.session.flush()
        return child

    def find(self, pnr: str) -> Child | None:
        return self.session.scalar(select(Child).where(Child.pnr_hash == self.lookup_hash(pnr)))

    def reveal(self, child_id: str | None) -> str | None:
        """The number of a child, for a reader already allowed to see the case."""
        child = self.session.get(Child, child_id) if child_id else None
        return self.sealer.open(child.pnr_cipher) if child else None


def refuse_in_data(data, clock: Clock, location: str = "/data") -> None:
    """InvalidInput if any string in `data` holds a personnummer: it belongs in barn_personnummer only."""
    today = clock.now().date()
    for where, value in strings(data, location):
        if personnummer.find(value, today):
            raise InvalidInput("a personnummer in case data", [FieldError(
                where, "personnummer and samordningsnummer are given only as the case's barn_personnummer, "
                       "never in other fields")])
