"""Secrets at rest: values sealed with the data key (Fernet: AES-128-CBC with HMAC-SHA256) and keyed hashes.

One data key (SAMVERKA_DATA_KEY, or one generated under var/) yields separate keys for each
purpose by HKDF, so a leaked lookup hash says nothing about the ciphertexts and vice versa.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.access.identity import secret_setting
from engine.core.settings import Settings

PREFIX = "sealed:"


class Sealer:
    """Seal and open values, and hash them with a key, all from one master key."""

    def __init__(self, master: str):
        def derive(purpose: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master.encode())
        self._lookup = derive(b"samverka personnummer lookup")
        self._fernet = Fernet(base64.urlsafe_b64encode(derive(b"samverka encryption")))

    def seal(self, value: str) -> str:
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str:
        """The value; a value stored before sealing existed is returned as it is."""
        if not sealed.startswith(PREFIX):
            return sealed
        return self._fernet.decrypt(sealed[len(PREFIX):].encode()).decode()

    def keyed_hash(self, value: str) -> str:
        return hmac.new(self._lookup, value.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
def _sealer(master: str) -> Sealer:
    return Sealer(master)


def sealer_for(settings: Settings) -> Sealer:
    return _sealer(secret_setting(settings, "data_key", "data-key"))
