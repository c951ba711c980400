"""Shapes of incidents, suspension and migrations: plain pydantic models, never engine objects."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .schemas import INT32_MAX, BlockedOut, Out


class IncidentOut(BlockedOut):
    case_id: str
    process_key: str
    element_type: str | None
    error_type: str
    state: Literal["open", "resolved"]
    attempts: int
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class IncidentDetailOut(IncidentOut):
    data: dict[str, Any] = Field(description="The data the element saw when it failed (a message: its payload)")


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    set: dict[str, Any] = Field(default_factory=dict, description="Keys to set in the data the element will see")
    remove: list[str] = Field(default_factory=list, max_length=200, description="Keys to remove from it")


class SuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=500, description="Why, for the history")


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from", min_length=1, max_length=200, description="An element id in the source version")
    to: str = Field(min_length=1, max_length=200, description="The element id it becomes in the target version")


class MigrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_version: int | None = Field(None, ge=1, le=INT32_MAX, description="Source version; omitted: every older one")
    to_version: int = Field(ge=1, le=INT32_MAX)
    mapping: list[MappingIn] = Field(default_factory=list, max_length=1000,
                                     description="Renamed or replaced elements; the rest map by id")


class CasePlanOut(BaseModel):
    case_id: str
    from_version: int
    movable: bool
    reasons: list[str] = Field(description="Why it cannot move (empty if it can)")
    effects: list[str] = Field(default_factory=list, description="What moving will do, e.g. a deadline that fires")


class MigrationPlanOut(BaseModel):
    process_key: str
    to_version: int
    movable: int
    unmovable: int
    cases: list[CasePlanOut]


class MigrationOut(Out):
    id: str
    process_key: str
    from_version: int | None
    to_version: int
    mapping: list[dict[str, str]]
    status: Literal["queued", "running", "done"]
    total: int
    processed: int
    moved: int
    refused: list[dict[str, Any]] = Field(description="Cases that could not move, each with its reasons")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
