"""Who is asking: principals, the locally signed tokens of the embedded default, and OIDC tokens
verified against the configured identity provider's issuer and JWKS."""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

import jwt

from engine.core.clock import Clock
from engine.core.errors import Refused
from engine.core.roles import role_id
from engine.core.settings import Settings

ALGORITHM = "HS256"
ISSUER = "samverka"


@dataclass(frozen=True)
class Principal:
    """A person or client acting for one agency with some roles."""

    user: str
    agency: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    client: str = "token"  # how they signed in, for the access log: token, oidc:<issuer>, api-key:<id>, worker
    scopes: frozenset[str] = field(default_factory=frozenset)  # what an integration client may do; see engine.access
    # Who the person is, stably: the token's issuer and subject (a user name alone names nobody; see directory).
    issuer: str | None = None
    subject: str | None = None
    units: frozenset[str] = field(default_factory=frozenset)  # the school, office or centre they act for
    person_id: str | None = None  # their directory id, once the directory knows them

    @property
    def key(self) -> tuple[str, str]:
        """The stable person key (issuer, subject); internal actors and API keys get one of their own."""
        return (self.issuer or f"internal:{self.client}", self.subject or self.user)

    @property
    def ref(self) -> str:
        """One string for the person (their directory id once known), e.g. for who claimed a task."""
        return self.person_id or "|".join(self.key)[:200]

    def has_role(self, role: str) -> bool:
        return role_id(role) in self.role_ids

    @property
    def role_ids(self) -> frozenset[str]:
        """The principal's roles in the one naming scheme of engine.roles."""
        return frozenset(filter(None, map(role_id, self.roles)))


SYSTEM = Principal(user="system", agency=None, roles=frozenset({"system"}), client="worker")


_FROM_FILES: dict = {}  # path -> secret: a generated secret is kept for good, so a process reads it once


def secret_setting(settings: Settings, name: str, file_name: str) -> str:
    """A configured secret, or one generated on first use and kept (mode 0600) under var/."""
    if getattr(settings, name):
        return getattr(settings, name)
    path = settings.var_dir / file_name
    known = _FROM_FILES.get(path)
    if known is not None:  # read once per process, not on every request
        return known
    if not path.exists():
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    _FROM_FILES[path] = value = path.read_text().strip()
    return value


def token_secret(settings: Settings) -> str:
    return secret_setting(settings, "token_secret", "token-secret")


def mint_token(settings: Settings, clock: Clock, principal: Principal, ttl: timedelta | None = None) -> str:
    """A signed token for `principal`, valid for the configured lifetime."""
    now = clock.now()
    claims = {
        "iss": ISSUER,
        "sub": principal.user,
        "agency": principal.agency,
        "roles": sorted(principal.roles),
        "units": sorted(principal.units),
        "scope": " ".join(sorted(principal.scopes)),
        "iat": int(now.timestamp()),
        "exp": int((now + (ttl or timedelta(hours=settings.token_ttl_hours))).timestamp()),
    }
    return jwt.encode(claims, token_secret(settings), algorithm=ALGORITHM)


@lru_cache(maxsize=4)
def _jwks(url: str) -> jwt.PyJWKClient:
    """The identity provider's signing keys, fetched on first use and cached (refetched for an unknown kid)."""
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=10)


def _claims(settings: Settings, token: str) -> tuple[dict, str]:
    """The verified claims of a local or OIDC token, and the client they came from."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError as exc:
        raise Refused(f"invalid token: {exc}") from None
    # Expiry, not-before and issued-at are judged by the engine clock (below), so simulations and tests agree
    # with timers.
    # The subject is checked below, from the claim SAMVERKA_OIDC_SUBJECT_CLAIM names (local tokens: `sub`).
    options = {"require": ["exp", "iss"], "verify_exp": False, "verify_iat": False, "verify_nbf": False}
    try:
        if settings.oidc_issuer and issuer == settings.oidc_issuer:
            key = _jwks(settings.oidc_jwks_url).get_signing_key_from_jwt(token).key
            # The audience is always checked: a token the provider issued to another application is not for us.
            claims = jwt.decode(token, key, algorithms=settings.oidc_algorithms, issuer=settings.oidc_issuer,
                                audience=settings.oidc_audience, options={**options, "require": [*options["require"],
                                                                                                   "aud"]})
            return claims, f"oidc:{issuer}"
        if not settings.accepts_local_tokens():
            raise Refused("local tokens are switched off (SAMVERKA_LOCAL_TOKENS): sign in with the identity provider")
        return jwt.decode(token, token_secret(settings), algorithms=[ALGORITHM], issuer=ISSUER,
                          options=options), "token"
    except jwt.PyJWKClientConnectionError as exc:
        raise Refused(f"the identity provider's signing keys could not be fetched: {exc}") from None
    except jwt.PyJWKClientError as exc:  # e.g. a kid the provider does not publish
        raise Refused(f"no signing key of the identity provider fits the token: {exc}") from None
    except jwt.InvalidTokenError as exc:
        raise Refused(f"invalid token: {exc}") from None


class VerifiedTokens:
    """Tokens whose signature was checked, with their claims, for a few minutes: checking an HS256 or RS256
    signature costs a twentieth of a task completion's CPU, and a caseworker's client sends the same token with
    every request. An entry lives at most `seconds` (wall clock), as long as the identity provider's signing keys
    are cached (`_jwks`), so a key the provider withdraws stops working as soon either way; expiry and not-before
    are still judged on every request, by the engine clock. Bounded: the least recently used go first."""

    def __init__(self, seconds: float = 300.0, size: int = 10_000):
        self.seconds, self.size = seconds, size
        self._entries: OrderedDict[str, tuple[float, dict, str]] = OrderedDict()
        self._lock = threading.Lock()  # requests verify in several worker threads

    def holds(self, token: str) -> bool:
        """Whether the token's checked claims are here and fresh (so `claims` does no signature check or key fetch)."""
        with self._lock:  # asked on the event loop while worker threads change the entries
            entry = self._entries.get(token)
        return entry is not None and entry[0] > time.monotonic()

    def claims(self, settings: Settings, token: str) -> tuple[dict, str]:
        """`_claims(settings, token)`, from the cache while the entry is fresh."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(token)
                return entry[1], entry[2]
        claims, client = _claims(settings, token)
        with self._lock:
            self._entries[token] = (now + self.seconds, claims, client)
            self._entries.move_to_end(token)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return claims, client


def _check_times(settings: Settings, clock: Clock, claims: dict) -> None:
    """exp strictly; nbf and iat with the configured leeway for a provider whose clock runs a little ahead."""
    now = clock.now().timestamp()
    if not _is_number(claims["exp"]) or claims["exp"] <= now:
        raise Refused("token expired")
    for name, why in (("nbf", "token not yet valid (nbf)"), ("iat", "token issued in the future (iat)")):
        value = claims.get(name)
        if value is not None and (not _is_number(value) or value > now + settings.oidc_leeway_seconds):
            raise Refused(why)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def claim_at(claims: dict, path: str):
    """The claim named `path`, or nested by dots (Keycloak's `realm_access.roles`); None if absent."""
    if path in claims:
        return claims[path]
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value, what: str) -> frozenset[str]:
    """A claim that is a list of strings (or one string), as a set; Refused otherwise."""
    value = [value] if isinstance(value, str) else value or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Refused(f"invalid token: {what} must be a list of strings")
    return frozenset(value)


def verify_token(settings: Settings, clock: Clock, token: str, verified: VerifiedTokens | None = None) -> Principal:
    """The principal a local or OIDC token names; Refused if it is invalid, expired or not yet valid (by the
    engine clock), or names no subject. `verified`: a cache of checked signatures (one per app and settings)."""
    claims, client = verified.claims(settings, token) if verified is not None else _claims(settings, token)
    _check_times(settings, clock, claims)
    local = client == "token"
    subject_claim = "sub" if local else settings.oidc_subject_claim
    sub = claim_at(claims, subject_claim)
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 200:
        raise Refused(f"invalid token: {subject_claim} must name the subject (a non-empty string of at most 200 "
                      "characters)")
    roles = claims.get("roles") if local else claim_at(claims, settings.oidc_roles_claim)
    if isinstance(roles, str) or not isinstance(roles or [], list):
        raise Refused("invalid token: roles must be a list of strings")
    roles = _strings(roles, "roles")
    units = _strings(claims.get("units") if local else claim_at(claims, settings.oidc_units_claim), "units")
    if "system" in {role_id(r) for r in roles}:
        raise Refused("invalid token: the role system is internal")
    scope = claims.get("scope") or ""
    agency = claims.get(settings.oidc_agency_claim if client != "token" else "agency")
    if not isinstance(scope, str) or not (agency is None or isinstance(agency, str)):
        raise Refused("invalid token: scope and agency must be strings")
    subject = sub
    name = None if local else claim_at(claims, settings.oidc_user_name_claim)
    return Principal(user=name[:200] if isinstance(name, str) and name else subject, agency=agency, roles=roles,
                     scopes=frozenset(scope.split()), client=client,
                     issuer=str(claims["iss"])[:500], subject=subject, units=units)


def principal_data(principal: Principal) -> dict:
    """The principal as JSON, to be stored with what they asked for (a job, a held message)."""
    return {"user": principal.user, "agency": principal.agency, "roles": sorted(principal.roles),
            "client": principal.client, "scopes": sorted(principal.scopes), "issuer": principal.issuer,
            "subject": principal.subject, "units": sorted(principal.units), "person_id": principal.person_id}


def principal_from(data: dict) -> Principal:
    """The principal stored by principal_data (rows stored before people had keys have user and agency only)."""
    return Principal(user=data["user"], agency=data["agency"], roles=frozenset(data["roles"]), client=data["client"],
                     scopes=frozenset(data["scopes"]), issuer=data.get("issuer"), subject=data.get("subject"),
                     units=frozenset(data.get("units", ())), person_id=data.get("person_id"))
