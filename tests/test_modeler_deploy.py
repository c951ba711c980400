"""Camunda Modeler's Deploy button, as its Camunda 7 client (CamundaAPI.js) speaks to /engine-rest.

The requests below are the Modeler's: `checkConnection` (GET /deployment?maxResults=0), `getVersion`
(GET /version), then `deployDiagram`: a multipart form with deployment-name, deployment-source
"Camunda Modeler", enable-duplicate-filtering "true", an optional tenant-id, the diagram under its
file name as field name (a text/xml blob) and each attachment the same way (a blob without a type),
with `accept: application/json` and `authorization: Bearer TOKEN`.
"""
from __future__ import annotations

import httpx

from factories import FIXTURES, SKOLA, start_case

ROOT = FIXTURES.parent.parent
ENKEL = (FIXTURES / "enkel.bpmn").read_bytes()
FORM = (FIXTURES / "forms" / "registrering.schema.json").read_bytes()


def modeler(server, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{server.base_url}/engine-rest", timeout=30,
                        headers={"accept": "application/json", "authorization": f"Bearer {token}"})


def deploy_diagram(client: httpx.Client, name: str, diagram: bytes, attachments=(), tenant_id: str | None = None):
    """CamundaAPI.deployDiagram: FormData fields in the Modeler's order, the diagram first, then attachments."""
    data = {"deployment-name": "enkel", "deployment-source": "Camunda Modeler", "enable-duplicate-filtering": "true"}
    if tenant_id:
        data["tenant-id"] = tenant_id
    files = [(name, (name, diagram, "text/xml"))]
    files += [(a_name, (a_name, content, "application/octet-stream")) for a_name, content in attachments]
    return client.post("/deployment/create", data=data, files=files)


def test_the_modeler_connects_deploys_and_gets_a_camunda_deployment_back(server):
    with modeler(server, server.token("agda", "processagare")) as client:
        assert client.get("/deployment", params={"maxResults": 0}).json() == []
        assert client.get("/version").json()["version"].startswith("7.")
        response = deploy_diagram(client, "enkel.bpmn", ENKEL, attachments=[("registrering.schema.json", FORM)])
        assert response.status_code == 200, response.text
        deployment = response.json()
        assert deployment["name"] == "enkel" and deployment["source"] == "Camunda Modeler" and deployment["id"]
        assert deployment["tenantId"] is None and deployment["links"][0]["rel"] == "self"
        [definition] = deployment["deployedProcessDefinitions"].values()
        assert definition["key"] == "enkel" and definition["version"] == 1 and definition["resource"] == "enkel.bpmn"
        assert definition["deploymentId"] == deployment["id"]
        again = deploy_diagram(client, "enkel.bpmn", ENKEL, attachments=[("registrering.schema.json", FORM)])
        assert again.status_code == 200 and again.json()["deployedProcessDefinitions"] is None, "duplicates filtered"
    with server.client("hanna", "handläggare") as hanna:
        case = start_case(hanna, "enkel")
        assert hanna.get(f"/tasks/{case['open_tasks'][0]['id']}").json()["form"]["required"] == ["barn_ref", "inkom"]


def test_a_bad_model_from_the_modeler_gets_samverkas_problem_with_a_message_for_its_log(server):
    typo = ENKEL.replace(b'camunda:formKey="registrering"', b'camunda:formKey="registrerng"')
    with modeler(server, server.token("agda", "processagare")) as client:
        response = deploy_diagram(client, "enkel.bpmn", typo)
        assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        [error] = problem["errors"]
        assert problem["type"] == "urn:samverka:problem:invalid-input"
        assert error["file"] == "enkel.bpmn" and error["element"] == "registrera" and error["line"] == 15
        assert "enkel.bpmn:15 registrera formKey 'registrerng' names no form" in problem["message"]
        assert problem["details"]["enkel.bpmn"]["errors"][0]["mainElementId"] == "registrera"
        assert client.get("/deployment").json() == []
        tenant = deploy_diagram(client, "enkel.bpmn", ENKEL, tenant_id="kommun")
        assert tenant.status_code == 422 and "no tenants" in tenant.json()["message"]


def test_the_modeler_needs_samverkas_token_and_the_owner_role(server):
    with httpx.Client(base_url=f"{server.base_url}/engine-rest") as anonymous:
        response = anonymous.post("/deployment/create", data={"deployment-name": "x"},
                                  files=[("enkel.bpmn", ("enkel.bpmn", ENKEL, "text/xml"))])
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    with modeler(server, server.token("mats", "mentor")) as mentor:
        assert deploy_diagram(mentor, "enkel.bpmn", ENKEL).status_code == 403


def test_a_decision_table_deployed_alone_from_its_tab_gives_the_process_that_calls_it_a_new_version(product):
    table = (ROOT / "processes" / "skolfranvaro_trappa.dmn").read_bytes()
    stricter = table.replace(b'<outputEntry id="r0_grans_upp"><text>10</text>', b'<outputEntry id="r0_grans_upp"><text>5</text>')
    assert stricter != table
    with modeler(product, product.token("agda", "processagare")) as client:
        response = deploy_diagram(client, "skolfranvaro_trappa.dmn", stricter)
        assert response.status_code == 200, response.text
        [definition] = response.json()["deployedProcessDefinitions"].values()
        assert (definition["key"], definition["version"]) == ("skolfranvaro", 2)
    with product.client("agda", "processagare") as owner:
        assert [v["version"] for v in owner.get("/process-definitions/hlt").json()] == [1], "others untouched"
    with product.client("mats", "mentor") as mentor:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-ref-7")["id"]
        mentor.post(f"/cases/{case_id}/messages", json={"name": "franvarorapport", "data": {
            "period_start": "2026-01-12", "period_slut": "2026-01-18", "franvaro_procent": 6,
            "ogiltig_franvaro": False}})
        assert mentor.get(f"/cases/{case_id}").json()["data"]["steg"] == 2, "the new threshold decides"
