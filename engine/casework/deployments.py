"""Deploying process definitions: versioned, idempotent, all-or-nothing."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.access.identity import Principal
from engine.access.policy import OWNER_ROLE
from engine.bpmn import changes as diff
from engine.bpmn.parser import ParsedProcess, parse_bundle
from engine.bpmn.references import decision_refs, declared_decisions
from engine.casework import bundles
from engine.core.clock import Clock
from engine.core.errors import InvalidInput, NotFound, Refused
from engine.core.models import ProcessVersion

DEPLOYER_ROLE = OWNER_ROLE


@dataclass
class Deployed:
    version: ProcessVersion
    created: bool
    warnings: list = field(default_factory=list)  # FieldErrors: what could not be proven right


@dataclass
class Planned:
    parsed: ParsedProcess
    resources: dict
    content_hash: str


def bundle_files(directory: Path, forms_dir: Path | None = None) -> dict[str, bytes]:
    """One deployment bundle from a folder: its .bpmn and .dmn files, with a forms folder's forms and templates."""
    return bundles.directory_files(directory, forms_dir)


def plan(files: dict[str, bytes], defaults: Path | None = None, prior: dict[str, str] | None = None) -> list[Planned]:
    """Check a bundle without a database: every problem at once as InvalidInput, or what each version would hold."""
    bundle = bundles.split(files, defaults, prior)
    try:
        parsed = parse_bundle(bundle.models, bundle.form_fields())
    except InvalidInput as exc:
        raise InvalidInput("deployment refused", bundle.errors + exc.errors) from None
    if bundle.errors:
        raise InvalidInput("deployment refused", bundle.errors)
    planned = []
    for process in parsed:
        resources = bundle.resources_for(set(process.form_keys))
        planned.append(Planned(process, resources, bundles.content_hash(process.files, resources)))
    return planned


def _with_processes_using(session: Session | None, files: dict[str, bytes]) -> tuple[dict[str, bytes], dict]:
    """Decision tables deployed alone come with the deployed processes that call them.

    (The Modeler deploys the open tab: a DMN edited on its own arrives without its BPMN.) The
    processes' other files, forms and templates are taken as their newest version has them."""
    if session is None or any(name.endswith(".bpmn") for name in files):
        return files, {}
    decisions = set().union(*(declared_decisions(c) for n, c in files.items() if n.endswith(".dmn")))
    completed, prior = dict(files), {}
    for version in latest_versions(session) if decisions else ():
        if decision_refs(version.files) & decisions:
            for name, text in version.files.items():
                completed.setdefault(name, text.encode("utf-8"))
            for group in ("forms", "templates"):
                for name, text in ((version.resources or {}).get(group) or {}).items():
                    prior.setdefault(name, text)
    return completed, prior


def _require_deployer(principal: Principal) -> None:
    if not principal.has_role(DEPLOYER_ROLE):
        raise Refused(f"deploying needs the role {DEPLOYER_ROLE}")


def _existing(session: Session, planned: Planned) -> ProcessVersion | None:
    return session.scalar(select(ProcessVersion).where(
        ProcessVersion.key == planned.parsed.key, ProcessVersion.content_hash == planned.content_hash))


def deploy(session: Session, clock: Clock, principal: Principal, files: dict[str, bytes],
           defaults: Path | None = None) -> list[Deployed]:
    """Validate and store every process in `files`; identical content returns the existing version.

    Forms and templates the upload leaves out are taken from `defaults` (the server's forms folder)."""
    _require_deployer(principal)
    results = []
    files, prior = _with_processes_using(session, files)
    for planned in plan(files, defaults, prior):
        existing = _existing(session, planned)
        if existing is not None:
            results.append(Deployed(existing, False, planned.parsed.warnings))
            continue
        parsed = planned.parsed
        latest = session.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.key == parsed.key))
        version = ProcessVersion(key=parsed.key, version=(latest or 0) + 1, name=parsed.name,
                                 content_hash=planned.content_hash, files=parsed.files, resources=planned.resources,
                                 deployed_at=clock.now(), deployed_by=principal.user)
        session.add(version)
        session.flush()
        results.append(Deployed(version, True, parsed.warnings))
    return results


def changes(planned: Planned, deployed: ProcessVersion | None) -> dict:
    """What deploying `planned` would change against the newest deployed version of its process."""
    old = (deployed.resources or {}) if deployed is not None else {}
    return {
        "key": planned.parsed.key, "name": planned.parsed.name,
        "deployed_version": deployed.version if deployed is not None else None,
        "unchanged": deployed is not None and deployed.content_hash == planned.content_hash,
        "elements": diff.compare(deployed.files if deployed is not None else None, planned.parsed.files),
        "forms": diff.compare_files(old.get("forms"), planned.resources["forms"]),
        "templates": diff.compare_files(old.get("templates"), planned.resources["templates"]),
    }


def dry_run(session: Session, principal: Principal | None, files: dict[str, bytes],
            defaults: Path | None = None) -> dict:
    """Every problem, and what each process's new version would change, without storing anything."""
    if principal is not None:
        _require_deployer(principal)
    files, prior = _with_processes_using(session, files)
    try:
        planned = plan(files, defaults, prior)
    except InvalidInput as exc:
        return {"valid": False, "problems": [e.as_dict() for e in exc.errors], "warnings": [], "processes": []}
    newest = {v.key: v for v in latest_versions(session)} if session is not None else {}
    return {"valid": True, "problems": [], "warnings": [w.as_dict() for p in planned for w in p.parsed.warnings],
            "processes": [changes(p, newest.get(p.parsed.key)) for p in planned]}


def latest_versions(session: Session) -> list[ProcessVersion]:
    """The newest version of every process key."""
    newest = (select(ProcessVersion.key, func.max(ProcessVersion.version).label("v"))
              .group_by(ProcessVersion.key).subquery())
    query = (select(ProcessVersion)
             .join(newest, (ProcessVersion.key == newest.c.key) & (ProcessVersion.version == newest.c.v))
             .order_by(ProcessVersion.key))
    return list(session.scalars(query))


def versions(session: Session, key: str) -> list[ProcessVersion]:
    rows = list(session.scalars(select(ProcessVersion).where(ProcessVersion.key == key)
                                .order_by(ProcessVersion.version)))
    if not rows:
        raise NotFound(f"no process definition with key {key!r}")
    return rows


def get_version(session: Session, key: str, version: int | None = None) -> ProcessVersion:
    """A given version of `key`, or its newest when `version` is None."""
    query = select(ProcessVersion).where(ProcessVersion.key == key)
    query = query.where(ProcessVersion.version == version) if version is not None else \
        query.order_by(ProcessVersion.version.desc()).limit(1)
    row = session.scalar(query)
    if row is None:
        what = f"version {version} of {key!r}" if version is not None else f"process definition {key!r}"
        raise NotFound(f"no {what}")
    return row


def source(version: ProcessVersion) -> tuple[str, str]:
    """(file name, XML) of the file that defines the version's process."""
    name = next(iter(version.files))
    return name, version.files[name]
