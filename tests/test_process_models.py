"""The shipped models: bpmnlint-clean with diagrams, every task's form present, one role scheme, editable thresholds."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT
from factories import SKOLA, deploy_files, start_case
from forms_data import eskalering, filled, samtycke, sip
from jsonschema import Draft202012Validator
from lxml import etree

from engine.casework import forms
from engine.core.roles import role_id

PROCESSES = sorted((ROOT / "processes").glob("*.bpmn"))
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn"}
ROLES = {"samordnare", "koordinator", "kontaktperson", "sprakror", "eht", "socialsekreterare", "hlt_motet", "chef",
         "mentor", "rektor"}  # the README's table of roles


def test_bpmnlint_recommended_rules_find_nothing():
    binary = ROOT / "node_modules" / ".bin" / "bpmnlint"
    if not binary.exists():
        pytest.fail("bpmnlint is not installed: `make test` runs `npm install` (package.json)")
    result = subprocess.run([str(binary), *map(str, PROCESSES)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "problem" not in result.stdout, result.stdout


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.name)
def test_every_user_task_has_a_form_and_every_lane_a_known_role(path: Path):
    root = etree.parse(str(path)).getroot()
    for task in root.iterfind(".//bpmn:userTask", NS):
        key = task.get(f"{{{NS['camunda']}}}formKey")
        schema, _ = forms.from_directory(ROOT / "forms").form(key)
        assert schema is not None, f"{path.name}: {task.get('id')} has no form {key}"
    lanes = {role_id(lane.get("name")) for lane in root.iterfind(".//bpmn:lane", NS)}
    assert lanes <= ROLES, lanes - ROLES
    assert root.find(".//{http://www.omg.org/spec/BPMN/20100524/DI}BPMNDiagram") is not None


def test_every_form_schema_is_valid_and_a_filled_in_form_passes_it():
    form_set = forms.from_directory(ROOT / "forms")
    registry = form_set.registry
    paths = sorted((ROOT / "forms").glob("*.schema.json"))
    assert len(paths) >= 30
    for path in paths:
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        # Every property filled in, so every $ref under it is resolved, as the first real submission would.
        example = filled(schema, registry)
        assert example and set(example) == set(schema["properties"]), path.name
        assert forms.validate(form_set, path.name.removesuffix(".schema.json"), example) == [], path.name
    # And what the scenario tests type in, for the forms that have a factory.
    for key, data in {"samtycke": samtycke(), "sip": sip(), "eskalering": eskalering()}.items():
        assert forms.validate(form_set, key, data) == [], key
    for path in sorted((ROOT / "forms").glob("*.ui.json")):
        assert (ROOT / "forms" / path.name.replace(".ui.json", ".schema.json")).exists(), path.name


def test_a_process_owner_changes_the_ladders_thresholds_in_the_dmn_alone(product):
    dmn = (ROOT / "processes" / "skolfranvaro_trappa.dmn").read_text()
    rung_0 = '<outputEntry id="r0_grans_upp"><text>10</text>'  # rung 0 → 2 at 10 % (docs/processes.md)
    assert rung_0 in dmn
    stricter = dmn.replace(rung_0, rung_0.replace("10", "5")).encode()
    with product.client("agda", "processagare") as owner:
        response = deploy_files(owner, "skolfranvaro.bpmn", "skolfranvaro_trappa.dmn", overrides={
            "skolfranvaro.bpmn": (ROOT / "processes" / "skolfranvaro.bpmn").read_bytes(),
            "skolfranvaro_trappa.dmn": stricter})
        assert response.status_code == 201, response.text
        assert [p["version"] for p in response.json()["processes"]] == [2]
    with product.client("mats", "mentor") as mentor:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-ref-8")["id"]
        mentor.post(f"/cases/{case_id}/messages", json={"name": "franvarorapport", "data": {
            "period_start": "2026-01-12", "period_slut": "2026-01-18", "franvaro_procent": 6,
            "ogiltig_franvaro": False}})
        assert mentor.get(f"/cases/{case_id}").json()["data"]["steg"] == 2


def test_the_layout_tool_draws_what_the_modeler_needs(tmp_path):
    from engine.bpmn.diagram import layout

    bare = etree.parse(str(ROOT / "processes" / "hlt.bpmn")).getroot()
    for diagram in bare.findall("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNDiagram"):
        bare.remove(diagram)
    target = tmp_path / "hlt.bpmn"
    target.write_bytes(layout(etree.tostring(bare)))
    binary = ROOT / "node_modules" / ".bin" / "bpmnlint"
    shutil.copy(ROOT / ".bpmnlintrc", tmp_path / ".bpmnlintrc")
    result = subprocess.run([str(binary), str(target)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.name)
def test_the_readme_pictures_are_drawn_from_the_current_models(path: Path):
    from engine.bpmn.diagram import svg

    picture = path.with_suffix(".svg")
    assert picture.exists() and picture.read_text() == svg(path.read_bytes()), \
        f"redraw with `.venv/bin/samverka diagram --svg {path.relative_to(ROOT)}`"
