"""Forms and templates deployed with the model: one bundle, versioned with it, kept by running cases."""
from __future__ import annotations

import json

from factories import FIXTURES, OWNER, SKOLA, do, open_task, sign_in, start_case
from forms_data import person, samtycke, sip
from test_hlt import HLT_MOTET, SAMORDNARE, aktualisera

ROOT = FIXTURES.parent.parent
ENKEL = (FIXTURES / "enkel.bpmn").read_bytes()
FORM = json.loads((FIXTURES / "forms" / "registrering.schema.json").read_text())


def _deploy(client, *files: tuple[str, bytes]):
    return client.post("/process-definitions", files=[("files", (n, c, "application/octet-stream")) for n, c in files])


def test_a_running_case_keeps_its_versions_form_after_version_2_changes_the_schema(server):
    v2_form = {**FORM, "required": [*FORM["required"], "orsak"],
               "properties": {**FORM["properties"], "orsak": {"type": "string", "minLength": 1}}}
    with server.client("agda", *OWNER) as owner, server.client("hanna", "handläggare") as hanna:
        first = _deploy(owner, ("enkel.bpmn", ENKEL), ("registrering.schema.json", json.dumps(FORM).encode()))
        assert first.status_code == 201 and first.json()["processes"][0]["version"] == 1
        old_case = start_case(hanna, "enkel")["id"]
        second = _deploy(owner, ("enkel.bpmn", ENKEL), ("registrering.schema.json", json.dumps(v2_form).encode()))
        assert second.status_code == 201 and second.json()["processes"][0]["version"] == 2, "a form change is a version"
        new_case = start_case(hanna, "enkel")["id"]
        old_task, new_task = open_task(hanna, old_case, "registrera"), open_task(hanna, new_case, "registrera")
        assert "orsak" not in hanna.get(f"/tasks/{old_task['id']}").json()["form"]["properties"]
        assert "orsak" in hanna.get(f"/tasks/{new_task['id']}").json()["form"]["required"]
        data = {"barn_ref": "b-1", "inkom": "2026-01-12"}
        refused = hanna.post(f"/tasks/{new_task['id']}/complete", json={"data": data})
        assert refused.status_code == 422 and refused.json()["errors"][0]["message"] == "saknas: 'orsak' måste fyllas i"
        done = hanna.post(f"/tasks/{old_task['id']}/complete", json={"data": data})
        assert done.status_code == 200, done.text


def test_forms_left_out_of_the_upload_come_from_the_servers_folder_and_are_frozen_into_the_version(server, tmp_path):
    with server.client("agda", *OWNER) as owner, server.client("hanna", "handläggare") as hanna:
        assert _deploy(owner, ("enkel.bpmn", ENKEL)).status_code == 201
        case_id = start_case(hanna, "enkel")["id"]
        task = open_task(hanna, case_id, "registrera")
        assert hanna.get(f"/tasks/{task['id']}").json()["form"]["required"] == FORM["required"]
        again = _deploy(owner, ("enkel.bpmn", ENKEL))
        assert again.json()["processes"][0]["created"] is False, "the same model with the same forms is the same version"


def test_a_broken_form_or_template_in_the_bundle_is_refused_naming_the_file(server):
    with server.client("agda", *OWNER) as owner:
        response = _deploy(owner, ("enkel.bpmn", ENKEL), ("registrering.schema.json", b'{"type": "objekt"}'),
                           ("sip.html", b"{% if %}"), ("notes.txt", b"hej"))
        assert response.status_code == 422, response.text
        errors = {e["file"]: e for e in response.json()["errors"]}
        assert "not a JSON Schema" in errors["registrering.schema.json"]["message"]
        assert errors["sip.html"]["line"] == 1 and "template syntax error" in errors["sip.html"]["message"]
        assert "notes.txt" in errors
        assert owner.get("/process-definitions").json() == []


def test_a_case_prints_with_the_templates_of_its_version(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        sign_in(samordnare)
        case_id = aktualisera(motet)
        do(motet, case_id, "samtycke", samtycke())
        do(motet, case_id, "sammankallande", {"traffar_familjen": [person("sam")], "samordnare": person("sam")})
        do(samordnare, case_id, "upprata_sip", sip())
        before = samordnare.get(f"/cases/{case_id}/documents/sip")
        assert before.status_code == 200 and "Samordnad individuell plan" in before.text
        with product.client("agda", *OWNER) as owner:
            response = _deploy(owner, ("hlt.bpmn", (FIXTURES.parent.parent / "processes" / "hlt.bpmn").read_bytes()),
                               ("sip.html", b"<p>Ny mall {{ sip }}</p>"))
            assert response.status_code == 201 and response.json()["processes"][0]["version"] == 2
        assert samordnare.get(f"/cases/{case_id}/documents/sip").text == before.text
        new_case = aktualisera(motet)
        do(motet, new_case, "samtycke", samtycke())
        do(motet, new_case, "sammankallande", {"traffar_familjen": [person("sam")], "samordnare": person("sam")})
        do(samordnare, new_case, "upprata_sip", sip())
        assert samordnare.get(f"/cases/{new_case}/documents/sip").text.startswith("<p>Ny mall")


def test_versions_deployed_before_forms_came_with_the_model_keep_working(db_url, tmp_path):
    """Rows from before migration 0017: no stored forms (the server's folder is read) and DMN cells in Python."""
    from conftest import Server
    from sqlalchemy import create_engine, update

    with Server(db_url, tmp_path / "var", forms_dir=ROOT / "forms") as server:  # the folder those versions read
        _legacy_ladder(server, db_url)


def _legacy_ladder(server, db_url) -> None:
    from sqlalchemy import create_engine, update

    from engine.core.models import ProcessVersion
    from test_skolfranvaro import report, steg

    ladder = (ROOT / "processes" / "skolfranvaro.bpmn").read_bytes()
    declared = (FIXTURES / "skolfranvaro_trappa_python.dmn").read_bytes()
    old_table = declared.replace(b' expressionLanguage="https://samverka.se/expression-language/safe-python"', b"")
    assert b"<text>== 0</text>" in old_table and b"expressionLanguage" not in old_table
    with server.client("agda", *OWNER) as owner:
        response = _deploy(owner, ("skolfranvaro.bpmn", ladder), ("skolfranvaro_trappa.dmn", declared),
                           *[(p.name, p.read_bytes()) for p in (ROOT / "forms").glob("*.json")])
        assert response.status_code == 201, response.text
    engine = create_engine(db_url)
    with engine.begin() as conn:  # as a version deployed before 0017 was stored
        files = {"skolfranvaro.bpmn": ladder.decode(), "skolfranvaro_trappa.dmn": old_table.decode()}
        conn.execute(update(ProcessVersion).values(resources=None, files=files))
    engine.dispose()
    with server.client("mats", "mentor", units=(SKOLA,)) as mentor:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-ref-1")["id"]
        report(mentor, case_id, 12, ogiltig=True)
        assert steg(mentor, case_id) == 2, "the old table's Python cells (True, max(steg, 2)) still decide"
