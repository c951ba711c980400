"""Schemathesis against the served OpenAPI document: generated requests to every operation (valid and
invalid) get no 5xx, and every response matches the schema the API publishes. Bounded in examples
per operation so `make test` stays quick."""
from __future__ import annotations

import uuid

import httpx
import pytest
import schemathesis
from conftest import ROOT, Server
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from engine.core.settings import Settings

# Everyone at once, so requests get past the role checks into the code behind them.
ROLES = ("hlt_motet", "samordnare", "koordinator", "kontaktperson", "eht", "mentor", "rektor", "socialsekreterare",
         "chef", "sprakror", "processagare", "registrator", "systemforvaltare")
_PATHS = create_app(Settings(database_url="sqlite://")).openapi()["paths"]
OPERATIONS = [f"{method.upper()} {path}" for path, methods in _PATHS.items() for method in methods]
# Invalid requests need something to get wrong: parameters or a body.
TAKES_INPUT = {f"{method.upper()} {path}" for path, methods in _PATHS.items() for method, spec in methods.items()
               if spec.get("parameters") or spec.get("requestBody")}


@pytest.fixture(scope="module")
def fuzzed(postgres, tmp_path_factory):
    """The product on PostgreSQL (the stricter backend: it refuses what SQLite lets through) with its processes."""
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    postgres.admin(f"CREATE DATABASE {name} TEMPLATE template_samverka")
    with Server(postgres.url(name), tmp_path_factory.mktemp("fuzz"), forms_dir=ROOT / "forms") as server:
        with server.client("agda", "processagare") as owner:
            files = [("files", (p.name, p.read_bytes(), "application/xml"))
                     for p in sorted((ROOT / "processes").iterdir()) if p.suffix in (".bpmn", ".dmn")]
            assert owner.post("/process-definitions", files=files).status_code == 201
        served = schemathesis.openapi.from_dict(httpx.get(f"{server.base_url}/openapi.json").json())
        yield server, served


@pytest.mark.parametrize("label, mode", [
    pytest.param(label, mode, id=f"{mode.value} {label}") for label in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or label in TAKES_INPUT])
def test_generated_requests_get_no_server_error_and_schema_conformant_answers(fuzzed, label, mode):
    server, served = fuzzed
    operation = served.find_operation_by_label(label)
    headers = {"Authorization": f"Bearer {server.token('fuzz', *ROLES)}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case):
        case.call_and_validate(base_url=server.base_url, headers=headers,
                               checks=[not_a_server_error, response_schema_conformance])

    call()
