"""Migrating running cases to another version of their process (role processagare).

A plan names the process, a source version (or every version older than the target), the target
and the elements it maps (`{"from": …, "to": …}`; the rest map by id). The dry run reports, per
case, whether it can move and why not (engine.bpmn.migration), changing nothing. Applying queues a
`MigrationJob` that a worker runs (engine.casework.migration_jobs): every case moves in its own
transaction together with the job's progress, so a crash leaves each case moved or untouched.
Rolling back is a migration to the earlier version with the reverse mapping.
"""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from engine.access.identity import Principal, principal_data
from engine.bpmn.runner import StepRecord
from engine.casework.incidents import require_owner
from engine.core.errors import FieldError, InvalidInput, NotFound
from engine.core.models import Case, MigrationJob, ProcessVersion

DRY_RUN_LIMIT = 2000  # cases reported by one dry run; a larger one names the first ones and counts the rest


def _version(session, key: str, number: int, field: str) -> ProcessVersion:
    row = session.scalar(select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == number))
    if row is None:
        raise InvalidInput(f"{key} has no version {number}", [FieldError(field, f"{key} has no version {number}")])
    return row


def sources(session, key: str, from_version: int | None, target: ProcessVersion) -> list[ProcessVersion]:
    """The versions whose cases the plan moves: the one named, or every version older than the target."""
    if from_version is not None:
        if from_version == target.version:
            raise InvalidInput("a migration moves cases to another version",
                               [FieldError("/from_version", "must differ from to_version")])
        return [_version(session, key, from_version, "/from_version")]
    return list(session.scalars(select(ProcessVersion).where(ProcessVersion.key == key,
                                                             ProcessVersion.version < target.version)))


def _elements(cached) -> set[str]:
    return {s.bpmn_id for spec in [cached.spec, *cached.subprocess_specs.values()]
            for s in spec.task_specs.values() if s.bpmn_id}


def check_mapping(cases, mapping: list[dict], versions: list[ProcessVersion], target: ProcessVersion) -> dict:
    """The mapping as {from: to}, after checking each `from` is in a source version and each `to` in the target."""
    known = set().union(*(_elements(cases.spec_for(v)) for v in versions)) if versions else set()
    wanted = _elements(cases.spec_for(target))
    errors, result = [], {}
    for i, pair in enumerate(mapping):
        if pair["from"] not in known:
            errors.append(FieldError(f"/mapping/{i}/from", f"{pair['from']} is not an element of a source version"))
        if pair["to"] not in wanted:
            errors.append(FieldError(f"/mapping/{i}/to", f"{pair['to']} is not an element of version "
                                                         f"{target.version}"))
        if pair["from"] in result:
            errors.append(FieldError(f"/mapping/{i}/from", f"{pair['from']} is mapped twice"))
        result[pair["from"]] = pair["to"]
    if errors:
        raise InvalidInput("the mapping names elements the versions do not have", errors)
    return result


def case_query(key: str, source_ids: list[int]):
    """Open cases on the source versions, in id order (the job's cursor order)."""
    return (select(Case).where(Case.process_key == key, Case.status == "open",
                               Case.process_version_id.in_(source_ids)).order_by(Case.id))


def move(cases, principal: Principal, case: Case, target: ProcessVersion, mapping: dict[str, str]):
    """Move one case onto `target` in the caller's transaction; returns the plan (its reasons if it did not move)."""
    source = cases.version_of(case)
    plan, snapshot = cases.runner.migrate(cases.spec_for(source), cases.spec_for(target), case.state, mapping)
    if snapshot is None:
        return plan
    case.process_version_id = target.id
    snapshot.records = [StepRecord("migrated", None, None, None, details={
        "from_version": source.version, "to_version": target.version,
        "mapping": [{"from": k, "to": v} for k, v in mapping.items()], "effects": plan.effects})]
    cases.apply(case, snapshot, principal)
    return plan


class MigrationService:
    """Dry runs and queued migrations; the caller owns the transaction."""

    def __init__(self, cases):
        self.cases, self.session, self.clock = cases, cases.session, cases.clock

    def _resolve(self, principal: Principal, key: str, body: dict):
        require_owner(principal)
        if not self.session.scalar(select(func.count()).where(ProcessVersion.key == key)):
            raise NotFound(f"no process {key}")
        target = _version(self.session, key, body["to_version"], "/to_version")
        versions = sources(self.session, key, body.get("from_version"), target)
        return target, versions, check_mapping(self.cases, body.get("mapping") or [], versions, target)

    def dry_run(self, principal: Principal, key: str, body: dict) -> dict:
        """Per case on the source versions: whether it can move and why not, and what moving would do."""
        target, versions, mapping = self._resolve(principal, key, body)
        numbers = {v.id: v.version for v in versions}
        report = []
        query = case_query(key, list(numbers)).limit(DRY_RUN_LIMIT)
        for case in self.session.scalars(query):
            old = self.cases.spec_for(self.cases.version_of(case))
            plan = self.cases.runner.plan_migration(old, self.cases.spec_for(target), case.state, mapping)
            report.append({"case_id": case.id, "from_version": numbers[case.process_version_id],
                           "movable": plan.movable, "reasons": plan.reasons, "effects": plan.effects})
        movable = sum(1 for r in report if r["movable"])
        return {"process_key": key, "to_version": target.version, "movable": movable,
                "unmovable": len(report) - movable, "cases": report}

    def submit(self, principal: Principal, key: str, body: dict) -> MigrationJob:
        """Queue the migration for a worker; every case on the source versions is counted in `total`."""
        target, versions, mapping = self._resolve(principal, key, body)
        total = self.session.scalar(select(func.count()).select_from(
            case_query(key, [v.id for v in versions]).order_by(None).subquery()))
        job = MigrationJob(id=str(uuid.uuid4()), process_key=key, from_version=body.get("from_version"),
                           to_version=target.version, mapping=[{"from": k, "to": v} for k, v in mapping.items()],
                           principal=principal_data(principal), status="queued", total=total, processed=0,
                           moved=0, refused=[], created_at=self.clock.now())
        self.session.add(job)
        self.session.flush()
        return job

    def get(self, principal: Principal, key: str, job_id: str) -> MigrationJob:
        require_owner(principal)
        job = self.session.get(MigrationJob, job_id)
        if job is None or job.process_key != key:
            raise NotFound(f"no migration {job_id} of {key}")
        return job
