"""The part of Camunda 7's REST API that Camunda Modeler's Deploy button speaks (camunda-modeler's CamundaAPI).

The Modeler probes `GET /version` and `GET /deployment?maxResults=0`, then posts
`/deployment/create`: multipart with `deployment-name`, `deployment-source`,
`enable-duplicate-filtering` (older clients: `deploy-changed-only`), an optional `tenant-id`,
and each file under its own name as the field name. Point the Modeler's REST endpoint at
`http://HOST:PORT/engine-rest` with a bearer token (role `processagare`). A deployment is
samverka's (forms come along as attachments or from the server's forms folder), answered in
Camunda's shape; a refusal is samverka's problem document, with Camunda's `message` for the Modeler's log.
"""
from __future__ import annotations

import hashlib

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile

from engine.access.policy import require_definition_reader
from engine.casework import deployments
from engine.core.errors import FieldError, InvalidInput

from .. import uploads
from ..deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/engine-rest", tags=["camunda modeler"], include_in_schema=False)
CAMUNDA_REST_VERSION = "7.22.0"  # the Camunda 7 REST API whose deployment calls this answers
FIELDS = {"deployment-name", "deployment-source", "enable-duplicate-filtering", "deploy-changed-only", "tenant-id",
          "deployment-activation-time"}


def _time(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime("%z")


def _definition(version, deployment_id: str) -> dict:
    return {"id": f"{version.key}:{version.version}:{version.id}", "key": version.key, "category": None,
            "description": None, "name": version.name, "version": version.version,
            "resource": next(iter(version.files)), "deploymentId": deployment_id, "diagram": None,
            "suspended": False, "tenantId": None, "versionTag": None, "historyTimeToLive": None,
            "startableInTasklist": True}


@router.get("/version")
def version(principal: PrincipalDep):
    """The Camunda REST API version the Modeler's deployment calls are answered in."""
    require_definition_reader(principal)
    return {"version": CAMUNDA_REST_VERSION}


@router.get("/deployment")
def list_deployments(session: SessionDep, principal: PrincipalDep,
                     max_results: int | None = Query(None, alias="maxResults", ge=0, le=10_000)):
    """The Modeler's connection check; deployments are samverka's process versions, newest of each process."""
    require_definition_reader(principal)
    rows = deployments.latest_versions(session)[:max_results]
    return [{"id": f"{v.key}:{v.version}:{v.id}", "name": v.key, "source": None,
             "deploymentTime": _time(v.deployed_at), "tenantId": None, "links": []} for v in rows]


@router.post("/deployment/create")
async def create_deployment(request: Request, session: SessionDep, principal: PrincipalDep):
    """Deploy the Modeler's diagram and attachments as one samverka bundle, answered in Camunda's shape."""
    settings = request.app.state.settings
    form = await request.form(max_files=200, max_fields=50)
    if form.get("tenant-id"):
        raise InvalidInput("samverka has no tenants", [FieldError(
            "tenant-id", "samverka has no tenants: leave the deployment's Tenant ID empty")])
    files = [value for key, value in form.multi_items() if isinstance(value, UploadFile) and key not in FIELDS]
    if not files:
        raise InvalidInput("nothing to deploy", [FieldError("files", "the deployment has no files")])
    contents = await uploads.read_files(files, settings.max_upload_bytes)
    deployed = deployments.deploy(session, request.app.state.clock, principal, contents, defaults=settings.forms_dir)
    digest = hashlib.sha256(b"".join(n.encode() + b"\0" + c for n, c in sorted(contents.items()))).hexdigest()[:32]
    created = [d.version for d in deployed if d.created]
    base = str(request.base_url).rstrip("/")
    when = max((d.version.deployed_at for d in deployed), default=request.app.state.clock.now())
    return {"links": [{"method": "GET", "href": f"{base}/engine-rest/deployment/{digest}", "rel": "self"}],
            "id": digest, "name": str(form.get("deployment-name") or ""), "source": form.get("deployment-source"),
            "deploymentTime": _time(when), "tenantId": None,
            "deployedProcessDefinitions": {d["id"]: d for d in (_definition(v, digest) for v in created)} or None,
            "deployedCaseDefinitions": None, "deployedDecisionDefinitions": None,
            "deployedDecisionRequirementsDefinitions": None}
