"""Process definitions: deploy BPMN/DMN files and read deployed versions."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from engine.access.policy import require_definition_reader
from engine.casework import deployments, figures

from .. import uploads
from ..deps import PrincipalDep, SessionDep
from ..schemas import INT32_MAX, DeployedOut, DeploymentOut, DryRunOut, ProcessFiguresOut, ProcessVersionOut

router = APIRouter(prefix="/process-definitions", tags=["process definitions"])


@router.post("", response_model=DeploymentOut, status_code=201,
             responses={200: {"model": DryRunOut, "description": "With dry_run=true: the problems and the changes"}})
async def deploy(request: Request, session: SessionDep, principal: PrincipalDep,
                 files: Annotated[list[UploadFile], File(min_length=1, description="A bundle: .bpmn/.dmn models, NAME.schema.json "
                                                                     "and NAME.ui.json forms, NAME.html templates")],
                 dry_run: Annotated[bool, Query(description="Check and compare only: nothing is stored")] = False):
    """Deploy a bundle of models with the forms and document templates they use (role `processagare`).

    Each executable process gets its BPMN id as key and the next version number, and keeps the
    forms and templates it was deployed with (those the upload leaves out come from the server's
    forms folder); content identical to an existing version returns that version. Invalid files
    are refused with 422 naming the file, line, element and rule, and nothing is stored.
    With `dry_run=true` the answer is 200: every problem, and what each new version would change
    against the deployed one (elements, forms, templates), and nothing is stored."""
    settings = request.app.state.settings
    contents = await uploads.read_files(files, settings.max_upload_bytes)
    if dry_run:
        report = deployments.dry_run(session, principal, contents, defaults=settings.forms_dir)
        return JSONResponse(DryRunOut.model_validate(report).model_dump(mode="json"), status_code=200)
    deployed = deployments.deploy(session, request.app.state.clock, principal, contents,
                                  defaults=settings.forms_dir)
    return DeploymentOut(processes=[
        DeployedOut(**ProcessVersionOut.model_validate(d.version).model_dump(), created=d.created) for d in deployed],
        warnings=[w.as_dict() for d in deployed for w in d.warnings])


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
