"""Request and response shapes of access control: participants, the access log, API keys."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.access.apikeys import SCOPE_PATTERN

from .schemas import Out

AGENCY_PATTERN = r"^[a-z][a-z0-9_]{1,49}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,199}$"


class ParticipantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: str | None = Field(None, max_length=36, description="The person's directory id")
    user: str | None = Field(None, pattern=NAME_PATTERN,
                             description="Or: the person's user name in the directory, with their agency")
    agency: str | None = Field(None, pattern=AGENCY_PATTERN,
                               description="skola, socialtjanst, halso_sjukvard, fritid, polis, ...")
    role: str = Field(min_length=1, max_length=200, description="One of the process's roles (lanes)")


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    participant_id: int = Field(description="The participant (row of GET /cases/{id}/participants) who hands over")
    person_id: str | None = Field(None, max_length=36, description="The new holder's directory id")
    user: str | None = Field(None, pattern=NAME_PATTERN, description="Or: their user name, with their agency")
    agency: str | None = Field(None, pattern=AGENCY_PATTERN)


class AppointmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: str | None = Field(None, max_length=36, description="The appointee's directory id")
    user: str | None = Field(None, pattern=NAME_PATTERN, description="Or: their user name, with their agency")
    agency: str | None = Field(None, pattern=AGENCY_PATTERN)


class ParticipantOut(Out):
    id: int
    issuer: str = Field(description="Who vouches for the person: their identity provider")
    subject: str = Field(description="The person's id at that identity provider")
    user: str = Field(description="Their user name, for display (people are matched by issuer and subject)")
    agency: str
    role: str
    source: Literal["started", "task", "added", "appointed", "handed_over", "message"] = Field(
        description="How they joined the case")
    added_at: datetime
    added_by: str


class MeOut(BaseModel):
    person_id: str | None = Field(description="Your directory id; none for integration clients")
    issuer: str
    subject: str
    user: str
    agency: str | None
    units: list[str]
    roles: list[str]
    managed_by: Literal["sign-in", "scim"] | None = Field(description="Who keeps your directory entry")


class AccessLogOut(Out):
    id: int
    at: datetime
    user: str
    agency: str | None
    roles: list[str]
    client: str = Field(description="How the caller signed in: token, oidc:ISSUER, api-key:ID, worker")
    case_id: str | None = Field(description="The case this row is about (for a list read: the first of `case_ids`)")
    case_ids: list[str] = Field(description="The cases asked about that this row names: one, or for a list "
                                            "read (one row per request) each of them it returned")
    action: Literal["read", "write", "refused", "cull"] = Field(description="refused: an attempt that was turned away")
    what: str


class AccessLogExtractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    personnummer: str = Field(min_length=1, max_length=20, description="The child's personnummer or samordningsnummer")
    cursor: str | None = Field(None, max_length=200)
    limit: int = Field(200, ge=1, le=500)


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
                      description="What the client is, e.g. the school's attendance system (no control characters)")
    agency: str | None = Field(None, pattern=AGENCY_PATTERN)
    scopes: list[Annotated[str, Field(pattern=SCOPE_PATTERN)]] = Field(min_length=1, max_length=50,
                              description="events, webhooks, messages:PROCESS, absence:SCHOOL (or :* for all); "
                                          "scim for SCIM provisioning (not included in *)")
    expires_in_days: int = Field(365, ge=1, le=36500, description="Days until the key expires (not null: every "
                                 "key expires); at most the server's SAMVERKA_API_KEY_MAX_DAYS, the maximum "
                                 "shown here. Left out: 365, or that maximum if it is shorter")


class ApiKeyOut(Out):
    id: str
    name: str
    agency: str | None
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key, shown once: send it as `Authorization: Bearer KEY`")
