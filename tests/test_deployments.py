"""Deploying BPMN: versions, idempotency, and refusal of anything unsafe or invalid."""
from __future__ import annotations

from pathlib import Path

from factories import FIXTURES, OWNER, deploy_files

LOOP = (FIXTURES / "loop.bpmn").read_bytes()


def test_deploy_versions_and_idempotency(server):
    with server.client("agda", *OWNER) as owner:
        first = deploy_files(owner, "loop.bpmn", "enkel.bpmn")
        assert first.status_code == 201, first.text
        assert {(p["key"], p["version"], p["created"]) for p in first.json()["processes"]} == {
            ("uppfoljning", 1, True), ("enkel", 1, True)}
        again = deploy_files(owner, "loop.bpmn").json()["processes"]
        assert [(p["version"], p["created"]) for p in again] == [(1, False)]
        changed = LOOP.replace(b'name="F\xc3\xb6lj upp"', b'name="F\xc3\xb6lj upp (v2)"')
        v2 = deploy_files(owner, "loop.bpmn", overrides={"loop.bpmn": changed}).json()["processes"]
        assert [(p["version"], p["created"]) for p in v2] == [(2, True)]
        assert [(d["key"], d["version"]) for d in owner.get("/process-definitions").json()] == [
            ("enkel", 1), ("uppfoljning", 2)]
        assert [v["version"] for v in owner.get("/process-definitions/uppfoljning").json()] == [1, 2]
        xml = owner.get("/process-definitions/uppfoljning/versions/1/bpmn")
        assert xml.status_code == 200 and xml.content == LOOP
        assert owner.get("/process-definitions/uppfoljning/versions/9/bpmn").status_code == 404


def _refused(server, content: bytes, name: str = "bad.bpmn") -> dict:
    with server.client("agda", *OWNER) as owner:
        response = deploy_files(owner, "loop.bpmn", name, overrides={name: content})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert owner.get("/process-definitions").json() == [], "nothing is stored from a refused deploy"
        return response.json()


def test_malformed_xml_is_refused_with_file_and_line(server):
    body = _refused(server, b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="x">\n<unclosed>\n</bpmn:definitions>')
    assert body["errors"][0]["file"] == "bad.bpmn" and body["errors"][0]["line"] in (3, 4)


def test_unknown_element_is_refused_naming_it(server):
    bad = LOOP.replace(b'<bpmn:endEvent id="slut" name="Avslutad">', b'<bpmn:fooTask id="konstig" />\n    <bpmn:endEvent id="slut" name="Avslutad">')
    error = _refused(server, bad)["errors"][0]
    assert error["file"] == "bad.bpmn" and error["line"] and "fooTask" in error["message"]


def test_service_task_is_refused_as_unsupported(server):
    bad = LOOP.replace(b'<bpmn:userTask id="paminn" name="P\xc3\xa5minn om uppf\xc3\xb6ljning">',
                       b'<bpmn:serviceTask id="paminn" name="Ring">').replace(b"</bpmn:userTask>\n    <bpmn:endEvent id=\"paminn_slut\">", b"</bpmn:serviceTask>\n    <bpmn:endEvent id=\"paminn_slut\">")
    error = _refused(server, bad)["errors"][0]
    assert error["element"] == "paminn" and "unsupported" in error["message"]


def test_forbidden_expression_is_refused_and_never_run(server, tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')".encode()
    bad = LOOP.replace(b">fortsatt == True<", b">" + payload + b"<")
    error = _refused(server, bad)["errors"][0]
    assert error["element"] == "f_again" and error["line"] and "not allowed" in error["message"]
    assert not marker.exists()


def test_script_task_with_code_is_refused(server):
    bad = (FIXTURES / "parallell.bpmn").read_bytes().replace(b"varv = varv + 1", b"import os")
    error = _refused(server, bad)["errors"][0]
    assert error["element"] == "summera" and "assignments" in error["message"]


def test_external_entities_are_refused(server):
    xxe = b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' + LOOP.split(b"?>", 1)[1]
    assert "forbidden XML" in _refused(server, xxe)["errors"][0]["message"]


def test_only_process_owners_deploy(server):
    with server.client("kim", "kontaktperson") as kim:
        response = deploy_files(kim, "loop.bpmn")
        assert response.status_code == 403 and response.json()["status"] == 403
