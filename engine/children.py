"""Children's identity numbers at rest: a keyed hash to find a child, a ciphertext to show the number.

A database dump holds neither the number nor anything it can be guessed back from without the
data key: the lookup hash is an HMAC (a plain hash of a ten-digit number with a check digit
is brute-forced in seconds), and the value is Fernet-encrypted (AES-128-CBC with HMAC-SHA256).
Both keys are derived from one data key: SAMVERKA_DATA_KEY, or one generated under var/.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import personnummer
from .clock import Clock
from .errors import FieldError, InvalidInput
from .identity import secret_setting
from .models import Child
from .settings import Settings


@lru_cache(maxsize=4)
def _keys(master: str) -> tuple[bytes, Fernet]:
    def derive(purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master.encode())
    return derive(b"samverka personnummer lookup"), Fernet(base64.urlsafe_b64encode(derive(b"samverka encryption")))


class ChildRegistry:
    """Register and look up children by number; the caller owns the transaction."""

    def __init__(self, session: Session, clock: Clock, settings: Settings):
        self.session, self.clock = session, clock
        self.lookup_key, self.fernet = _keys(secret_setting(settings, "data_key", "data-key"))

    def lookup_hash(self, pnr: str) -> str:
        return hmac.new(self.lookup_key, pnr.encode(), hashlib.sha256).hexdigest()

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
                          pnr_cipher=self.fernet.encrypt(pnr.encode()).decode(), created_at=self.clock.now())
            self.session.add(child)
            self.session.flush()
        return child

    def find(self, pnr: str) -> Child | None:
        return self.session.scalar(select(Child).where(Child.pnr_hash == self.lookup_hash(pnr)))

    def reveal(self, child_id: str | None) -> str | None:
        """The number of a child, for a reader already allowed to see the case."""
        child = self.session.get(Child, child_id) if child_id else None
        return self.fernet.decrypt(child.pnr_cipher.encode()).decode() if child else None


def refuse_in_data(data, clock: Clock, location: str = "/data") -> None:
    """InvalidInput if any string in `data` holds a personnummer: it belongs in barn_personnummer only."""
    today = clock.now().date()
    stack = [(location, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            stack += [(f"{where}/{k}", v) for k, v in value.items()] + [(where, k) for k in value]
        elif isinstance(value, list):
            stack += [(f"{where}/{i}", v) for i, v in enumerate(value)]
        elif isinstance(value, str) and personnummer.find(value, today):
            raise InvalidInput("a personnummer in case data", [FieldError(
                where, "personnummer and samordningsnummer are given only as the case's barn_personnummer, "
                       "never in other fields")])
