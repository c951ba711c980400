"""API keys for integration clients: scoped, expiring, revocable, and kept only as a hash.

A key is `svk_<id>_<secret>`. The secret is 256 random bits, so a plain SHA-256 of it is as
safe at rest as a slow password hash would be, and checking it costs microseconds per request.
Keys are managed by the role `systemforvaltare`.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.identity import Principal
from engine.access.policy import INTEGRATOR_ROLE
from engine.core.clock import Clock
from engine.core.errors import FieldError, InvalidInput, NotFound, Refused
from engine.core.models import ApiKey

ADMIN_ROLE = "systemforvaltare"
PREFIX = "svk_"
DEFAULT_DAYS = 365
_KEY = re.compile(r"^svk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
SCOPE_PATTERN = r"^(\*|events|webhooks|scim|(events|messages|absence):(\*|[a-z0-9_]{1,100}))$"
_SCOPE = re.compile(SCOPE_PATTERN)


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyService:
    """Create, list, revoke and authenticate keys; the caller owns the transaction."""

    def __init__(self, session: Session, clock: Clock, max_days: int = 365):
        self.session, self.clock, self.max_days = session, clock, max_days

    def _require_admin(self, principal: Principal) -> None:
        if not principal.has_role(ADMIN_ROLE) or principal.client.startswith("api-key:"):
            raise Refused(f"API keys are managed by the role {ADMIN_ROLE}")

    def create(self, principal: Principal, name: str, agency: str | None, scopes: list[str],
               expires_in_days: int | None) -> tuple[ApiKey, str]:
        """A new key and its plain text, which is never stored or shown again. Every key expires, at the latest
        after the operator's maximum (SAMVERKA_API_KEY_MAX_DAYS): a longer lifetime is refused; None gives the
        default (the API refuses an explicit null before it gets here)."""
        self._require_admin(principal)
        if expires_in_days is None:  # not given: a year, or the maximum if that is shorter
            expires_in_days = min(DEFAULT_DAYS, self.max_days)
        if not isinstance(expires_in_days, int) or not 1 <= expires_in_days <= self.max_days:
            raise InvalidInput("every API key expires", [FieldError(
                "/expires_in_days", f"a number of days from 1 to {self.max_days} (the most this server allows)")])
        bad = [(i, s) for i, s in enumerate(scopes) if not _SCOPE.match(s)]
        if bad:
            raise InvalidInput("unknown scopes", [FieldError(f"/scopes/{i}", f"{s[:50]!r} is not events, events:PROCESS, "
                                                             "webhooks, scim, messages:PROCESS or absence:SCHOOL (a slug)") for i, s in bad])
        key_id, secret = uuid.uuid4().hex, secrets.token_urlsafe(32)
        now = self.clock.now()
        row = ApiKey(id=key_id, secret_hash=_digest(secret), name=name, agency=agency, roles=[INTEGRATOR_ROLE],
                     scopes=sorted(set(scopes)), created_by=principal.user, created_at=now,
                     expires_at=now + timedelta(days=expires_in_days))
        self.session.add(row)
        self.session.flush()
        return row, f"{PREFIX}{key_id}_{secret}"

    def list(self, principal: Principal) -> list[ApiKey]:
        self._require_admin(principal)
        return list(self.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))

    def revoke(self, principal: Principal, key_id: str) -> ApiKey:
        """Revoke a key: the next request made with it is refused."""
        self._require_admin(principal)
        row = self.session.get(ApiKey, key_id)
        if row is None:
            raise NotFound(f"no API key {key_id}")
        row.revoked_at = row.revoked_at or self.clock.now()
        self.session.flush()
        return row

    def authenticate(self, key: str) -> Principal:
        """The client a key stands for; Refused if it is unknown, wrong, revoked or expired."""
        match = _KEY.match(key)
        row = self.session.get(ApiKey, match.group(1)) if match else None
        if row is None or not hmac.compare_digest(row.secret_hash, _digest(match.group(2))):
            raise Refused("invalid API key")
        if row.revoked_at is not None:
            raise Refused("API key revoked")
        if row.expires_at is not None and row.expires_at <= self.clock.now():
            raise Refused("API key expired")
        return Principal(user=f"api-key-{row.id}", agency=row.agency, roles=frozenset(row.roles),
                         client=f"api-key:{row.id}", scopes=frozenset(row.scopes))
