"""Process definitions: deploy BPMN/DMN files and read deployed versions."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import Response

from engine.access.policy import require_definition_reader
from engine.casework import deployments, figures
from engine.core.errors import FieldError, InvalidInput

from ..deps import PrincipalDep, SessionDep
from ..schemas import INT32_MAX, DeployedOut, DeploymentOut, ProcessFiguresOut, ProcessVersionOut

router = APIRouter(prefix="/process-definitions", tags=["process definitions"])


@router.post("", response_model=DeploymentOut, status_code=201)
async def deploy(request: Request, session: SessionDep, principal: PrincipalDep,
                 files: Annotated[list[UploadFile], File(description="One or more .bpmn/.dmn files")]):
    """Deploy BPMN and DMN files (role `processagare`).

    Each executable process gets its BPMN id as key and the next version number; content
    identical to an existing version returns that version. Invalid files are refused with
    422 naming the file, line, element and rule, and nothing is stored."""
    limit = request.app.state.settings.max_upload_bytes
    contents: dict[str, bytes] = {}
    for upload in files:
        name = (upload.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise InvalidInput("file too large", [FieldError(name, f"larger than {limit} bytes", file=name)])
        if name in contents:
            raise InvalidInput("duplicate file name", [FieldError(name, "uploaded twice", file=name)])
        contents[name] = data
    deployed = deployments.deploy(session, request.app.state.clock, principal, contents)
    return DeploymentOut(processes=[
        DeployedOut(**ProcessVersionOut.model_validate(d.version).model_dump(), created=d.created) for d in deployed])


@router.get("", response_model=list[ProcessVersionOut])
def list_definitions(session: SessionDep, principal: PrincipalDep):
    """The newest version of every deployed process."""
    require_definition_reader(principal)
    return deployments.latest_versions(session)


@router.get("/{key}", response_model=list[ProcessVersionOut])
def list_versions(key: str, session: SessionDep, principal: PrincipalDep):
    """All versions of one process, oldest first."""
    require_definition_reader(principal)
    return deployments.versions(session, key)


@router.get("/{key}/versions/{version}/bpmn", response_class=Response,
            responses={200: {"content": {"application/xml": {}}}})
def get_bpmn(key: str, version: Annotated[int, Path(ge=1, le=INT32_MAX)], session: SessionDep, principal: PrincipalDep):
    """The BPMN XML of one version, exactly as deployed."""
    require_definition_reader(principal)
    name, xml = deployments.source(deployments.get_version(session, key, version))
    return Response(xml, media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{key}/figures", response_model=ProcessFiguresOut)
def process_figures(key: str, request: Request, session: SessionDep, principal: PrincipalDep):
    """Cases by status and open tasks per step with how many are overdue (role `processagare`).

    Counts only: process owners see how the process runs, never a case."""
    return figures.figures(session, request.app.state.clock, principal, key)
