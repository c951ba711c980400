"""Deploying process definitions: versioned, idempotent, all-or-nothing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.access.identity import Principal
from engine.access.policy import OWNER_ROLE
from engine.bpmn.parser import parse_bundle
from engine.core.clock import Clock
from engine.core.errors import NotFound, Refused
from engine.core.models import ProcessVersion

DEPLOYER_ROLE = OWNER_ROLE


@dataclass
class Deployed:
    version: ProcessVersion
    created: bool


def bundle_files(directory: Path) -> dict[str, bytes]:
    """The .bpmn and .dmn files of a folder, by name: one deployment bundle."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.suffix in (".bpmn", ".dmn")}


def deploy(session: Session, clock: Clock, principal: Principal, files: dict[str, bytes]) -> list[Deployed]:
    """Validate and store every process in `files`; identical content returns the existing version."""
    if not principal.has_role(DEPLOYER_ROLE):
        raise Refused(f"deploying needs the role {DEPLOYER_ROLE}")
    results = []
    for parsed in parse_bundle(files):
        existing = session.scalar(select(ProcessVersion).where(
            ProcessVersion.key == parsed.key, ProcessVersion.content_hash == parsed.content_hash))
        if existing is not None:
            results.append(Deployed(existing, created=False))
            continue
        latest = session.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.key == parsed.key))
        version = ProcessVersion(key=parsed.key, version=(latest or 0) + 1, name=parsed.name,
                                 content_hash=parsed.content_hash, files=parsed.files,
                                 deployed_at=clock.now(), deployed_by=principal.user)
        session.add(version)
        session.flush()
        results.append(Deployed(version, created=True))
    return results


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
