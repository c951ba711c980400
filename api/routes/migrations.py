"""Migrations: moving running cases of a process onto another of its versions."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from engine.casework.migration import MigrationService

from ..deps import CasesDep, PrincipalDep
from ..incident_schemas import MigrationIn, MigrationOut, MigrationPlanOut

router = APIRouter(prefix="/process-definitions", tags=["migrations"])


@router.post("/{key}/migrations", response_model=MigrationOut, status_code=202,
             responses={200: {"model": MigrationPlanOut, "description": "With dry_run=true: per case, can it move"}})
def migrate(key: str, body: MigrationIn, cases: CasesDep, principal: PrincipalDep,
            dry_run: Annotated[bool, Query(description="Report per case only: nothing changes")] = False):
    """Move the open cases of `from_version` (omitted: every older version) onto `to_version` (role `processagare`).

    Elements keep their id unless `mapping` maps them (`{"from": "sip_gammal", "to": "upprata_sip"}`). With
    `dry_run=true` the answer is 200 and names, per case, whether it can move, why not (an open task at an element
    the target lacks, a waiting join whose branches changed, …) and what moving does (a shortened deadline that is
    already past fires at once). Otherwise the migration is queued (202) and a worker moves each movable case in
    its own transaction: open tasks keep their id, assignee and claim; timers are re-derived from the new model;
    one `migrated` history entry and a `case.migrated` event per case. Follow it at `GET …/migrations/{id}`.
    Rolling back is migrating to the earlier version with the reverse mapping."""
    service = MigrationService(cases)
    data = {"from_version": body.from_version, "to_version": body.to_version,
            "mapping": [{"from": m.from_, "to": m.to} for m in body.mapping]}
    if dry_run:
        report = MigrationPlanOut.model_validate(service.dry_run(principal, key, data))
        return JSONResponse(report.model_dump(mode="json"), status_code=200)
    return service.submit(principal, key, data)


@router.get("/{key}/migrations/{migration_id}", response_model=MigrationOut)
def migration_progress(key: str, migration_id: str, cases: CasesDep, principal: PrincipalDep):
    """A migration's progress (role `processagare`): cases examined of the total, moved, and those that could not
    move with their reasons."""
    return MigrationService(cases).get(principal, key, migration_id)
