"""A deploy that tells the truth before it happens: dry_run=true and `samverka lint` report and change nothing."""
from __future__ import annotations

import json

from factories import FIXTURES, OWNER
from factories import database_bytes as dump
from test_cli import samverka

ROOT = FIXTURES.parent.parent
LADDER, TABLE = (ROOT / "processes" / "skolfranvaro.bpmn").read_bytes(), (ROOT / "processes" / "skolfranvaro_trappa.dmn").read_bytes()
SAMTYCKE = json.loads((ROOT / "forms" / "samtycke.schema.json").read_text())


def database_bytes(db_url: str) -> bytes:
    """The database's contents (pg_dump's random \\restrict key left out)."""
    return b"\n".join(line for line in dump(db_url).split(b"\n") if not line.startswith((b"\\restrict", b"\\unrestrict")))


def _files(ladder: bytes, *extra: tuple[str, bytes]):
    return [("files", ("skolfranvaro.bpmn", ladder, "application/xml")),
            ("files", ("skolfranvaro_trappa.dmn", TABLE, "application/xml")),
            *[("files", (n, c, "application/octet-stream")) for n, c in extra]]


def test_dry_run_reports_every_problem_and_stores_nothing(product, db_url):
    bad = (LADDER.replace(b'camunda:formKey="samtycke"', b'camunda:formKey="samtyke"')
           .replace(b'messageRef="Msg_orosanmalan"', b'messageRef="Msg_oro"'))
    with product.client("agda", *OWNER) as owner:
        before = database_bytes(db_url)
        response = owner.post("/process-definitions", params={"dry_run": "true"}, files=_files(bad))
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["valid"] is False and report["processes"] == []
        assert {(p["file"], p["element"]) for p in report["problems"]} == {
            ("skolfranvaro.bpmn", "samtycke"), ("skolfranvaro.bpmn", "oro_msg")}
        assert all(p["line"] and p["message"] for p in report["problems"])
        assert database_bytes(db_url) == before, "no row written"


def test_dry_run_shows_what_a_new_version_changes_and_deploys_nothing(product, db_url):
    renamed = LADDER.replace(b'name="Steg 2: mentorn', b'name="Steg 2: mentor')
    assert renamed != LADDER
    form = {**SAMTYCKE, "title": "Samtycke (ny text)"}
    with product.client("agda", *OWNER) as owner:
        versions = owner.get("/process-definitions/skolfranvaro").json()
        before = database_bytes(db_url)
        response = owner.post("/process-definitions", params={"dry_run": "true"},
                              files=_files(renamed, ("samtycke.schema.json", json.dumps(form).encode())))
        assert response.status_code == 200, response.text
        [change] = response.json()["processes"]
        assert change["key"] == "skolfranvaro" and change["deployed_version"] == 1 and not change["unchanged"]
        assert change["elements"]["changed"] == [
            {"id": "mentorsuppfoljning", "type": "userTask",
             "name": "Steg 2: mentor följer upp med elev och vårdnadshavare"}]
        assert change["elements"]["added"] == change["elements"]["removed"] == []
        assert change["forms"] == {"added": [], "removed": [], "changed": ["samtycke.schema.json"]}
        assert owner.get("/process-definitions/skolfranvaro").json() == versions
        assert database_bytes(db_url) == before, "no new version, no rows"
        same = owner.post("/process-definitions", params={"dry_run": "true"}, files=_files(LADDER)).json()
        assert same["processes"][0]["unchanged"] is True


def test_only_process_owners_dry_run(product):
    with product.client("mats", "mentor") as mentor:
        response = mentor.post("/process-definitions", params={"dry_run": "true"}, files=_files(LADDER))
        assert response.status_code == 403


def test_lint_reports_problems_offline_and_exits_1(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "skolfranvaro.bpmn").write_bytes(LADDER.replace(b'camunda:decisionRef="trappsteg"',
                                                              b'camunda:decisionRef="trapsteg"'))
    (bundle / "skolfranvaro_trappa.dmn").write_bytes(TABLE.replace(b'<outputEntry id="r4_grans_upp"><text>20</text>',
                                                                   b'<outputEntry id="r4_grans_upp"><text>=&gt; 20</text>'))
    result = samverka(tmp_path, "lint", str(bundle))
    assert result.returncode == 1, result.stdout + result.stderr
    line = LADDER[:LADDER.index(b'camunda:decisionRef="trappsteg"')].count(b"\n") + 1
    assert f"skolfranvaro.bpmn:{line}: error: trappsteg: decisionRef 'trapsteg' names no decision" in result.stdout
    cell = TABLE[:TABLE.index(b'<outputEntry id="r4_grans_upp">')].count(b"\n") + 1
    assert f"skolfranvaro_trappa.dmn:{cell}: error: r_steg_4: rule r_steg_4 (row 5), output column 'grans_upp'" in result.stdout
    assert "no database" in result.stdout and not (tmp_path / "var").exists(), "lint creates no database"


def test_lint_compares_with_the_deployed_versions_and_changes_nothing(tmp_path):
    env = {"SAMVERKA_DATABASE_URL": f"sqlite:///{tmp_path / 'samverka.db'}"}
    assert samverka(tmp_path, "migrate", **env).returncode == 0
    assert samverka(tmp_path, "deploy", str(ROOT / "processes"), **env).returncode == 0
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for path in (ROOT / "processes").glob("*.*"):
        (bundle / path.name).write_bytes(path.read_bytes())
    (bundle / "skolfranvaro.bpmn").write_bytes(LADDER.replace(b">end_of_day(add_school_days(today(), kontroll_skoldagar))<", b">end_of_day(add_school_days(today(), kontroll_skoldagar + 5))<"))
    before = (tmp_path / "samverka.db").read_bytes()
    result = samverka(tmp_path, "lint", str(bundle), "--json", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    changed = {c["key"]: c for c in report["processes"]}
    assert changed["hlt"]["unchanged"] and changed["vastbas"]["unchanged"]
    assert [e["id"] for e in changed["skolfranvaro"]["elements"]["changed"]] == ["ingen_rapport_timer"]
    assert (tmp_path / "samverka.db").read_bytes() == before
