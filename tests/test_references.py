"""Every reference resolves at deploy: formKeys name forms, decisionRefs decisions, messageRefs messages."""
from __future__ import annotations

from factories import FIXTURES, OWNER

ROOT = FIXTURES.parent.parent
LADDER, TABLE = (ROOT / "processes" / "skolfranvaro.bpmn").read_bytes(), (ROOT / "processes" / "skolfranvaro_trappa.dmn").read_bytes()


def _line_of(content: bytes, needle: bytes) -> int:
    return content[:content.index(needle)].count(b"\n") + 1


def _refused(product, ladder: bytes, table: bytes = TABLE) -> dict:
    with product.client("agda", *OWNER) as owner:
        before = owner.get("/process-definitions/skolfranvaro").json()
        response = owner.post("/process-definitions", files=[
            ("files", ("skolfranvaro.bpmn", ladder, "application/xml")),
            ("files", ("skolfranvaro_trappa.dmn", table, "application/xml"))])
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["type"] == "urn:samverka:problem:invalid-input" and body["status"] == 422
        assert owner.get("/process-definitions/skolfranvaro").json() == before, "nothing deployed"
        [error] = body["errors"]
        assert error["file"] == "skolfranvaro.bpmn"
        return error


def test_a_form_key_typo_is_refused_with_file_line_element_and_rule(product):
    typo = LADDER.replace(b'camunda:formKey="samtycke"', b'camunda:formKey="samtyke"')
    error = _refused(product, typo)
    assert error["element"] == "samtycke" and error["line"] == _line_of(typo, b'camunda:formKey="samtyke"')
    assert "formKey 'samtyke' names no form in the deployment (did you mean 'samtycke'?)" in error["message"]


def test_an_unknown_decision_ref_is_refused(product):
    bad = LADDER.replace(b'camunda:decisionRef="trappsteg"', b'camunda:decisionRef="trapsteg"')
    error = _refused(product, bad)
    assert error["element"] == "trappsteg" and error["line"] == _line_of(bad, b'camunda:decisionRef="trapsteg"')
    assert "decisionRef 'trapsteg' names no decision in the deployment" in error["message"]


def test_an_undeclared_message_is_refused(product):
    bad = LADDER.replace(b'messageRef="Msg_orosanmalan"', b'messageRef="Msg_oro"')
    error = _refused(product, bad)
    assert error["element"] == "oro_msg" and error["line"] == _line_of(bad, b'messageRef="Msg_oro"')
    assert "messageRef 'Msg_oro' names no bpmn:message declared in this file" in error["message"]


def test_a_gateway_reading_data_nothing_upstream_sets_is_a_warning_not_a_refusal(product):
    unset = LADDER.replace(b">avsluta == True<", b">avsluta == True and klar == True<")
    assert unset != LADDER
    files = [("files", ("skolfranvaro.bpmn", unset, "application/xml")),
             ("files", ("skolfranvaro_trappa.dmn", TABLE, "application/xml"))]
    with product.client("agda", *OWNER) as owner:
        report = owner.post("/process-definitions", params={"dry_run": "true"}, files=files).json()
        assert report["valid"] is True and report["problems"] == []
        [warning] = report["warnings"]
        assert warning["file"] == "skolfranvaro.bpmn" and warning["element"] == "f_avsluta"
        assert warning["line"] == _line_of(unset, b"klar == True") and "'klar'" in warning["message"]
        deployed = owner.post("/process-definitions", files=files)
        assert deployed.status_code == 201 and [w["element"] for w in deployed.json()["warnings"]] == ["f_avsluta"]
        unit = b'<camunda:property name="case_unit" value="data:skola"/>'  # the process's own properties
        declared = unset.replace(unit, unit + b'<camunda:property name="input" value="klar" />', 1)
        assert declared != unset
        files[0] = ("files", ("skolfranvaro.bpmn", declared, "application/xml"))
        report = owner.post("/process-definitions", params={"dry_run": "true"}, files=files).json()
        assert report["valid"] is True and report["warnings"] == [], "a declared input needs no proof"
