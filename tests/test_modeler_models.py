"""Models as Camunda Modeler writes them: ISO 8601 timer literals, FEEL decision tables, no expressionLanguage."""
from __future__ import annotations

from datetime import timedelta

from factories import FIXTURES, OWNER, SKOLA, complete, deploy_files, open_elements, open_task, start_case
from test_skolfranvaro import MENTOR, report, steg

ROOT = FIXTURES.parent.parent
LADDER, TABLE = (ROOT / "processes" / "skolfranvaro.bpmn").read_bytes(), (ROOT / "processes" / "skolfranvaro_trappa.dmn").read_bytes()
CHECK = b"end_of_day(add_school_days(today(), kontroll_skoldagar))"  # the no-report check, in school days


def test_the_ladder_as_the_modeler_writes_it_deploys_and_runs(product):
    assert b"expressionLanguage" not in LADDER + TABLE
    assert CHECK in LADDER and b"<text>[" not in TABLE and b"<text>99</text>" in TABLE
    with product.client("mats", *MENTOR) as mentor:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-ref-9")["id"]
        [periodic] = mentor.get(f"/cases/{case_id}/timers").json()
        # two school weeks (the table's kontroll_skoldagar), to the end of the day in Swedish time
        assert periodic["expression"] == CHECK.decode() and periodic["due_at"].startswith("2026-01-26T22:59:59")
        report(mentor, case_id, 12, ogiltig=True)  # the FEEL table: rung 0 climbs to 2 at 10 %
        assert steg(mentor, case_id) == 2
        product.clock.advance(timedelta(days=15))
        product.fire_timers()
        assert "registrera_narvaro" in open_elements(mentor, case_id)


def _timers(client, case_id):
    return [(t["element_id"], t["due_at"], t["expression"], t["repeats"])
            for t in client.get(f"/cases/{case_id}/timers").json()]


def test_quoted_timers_of_todays_models_and_iso_literals_behave_the_same(server):
    quoted = (FIXTURES / "frister.bpmn").read_bytes()
    literal = quoted.replace(b'>"P30D"<', b">P30D<").replace(b'>"R/P6M"<', b">R/P6M<")
    assert literal != quoted
    with server.client("agda", *OWNER) as owner, server.client("kim", "koordinator") as kim:
        seen = []
        for version, content in enumerate((quoted, literal), start=1):
            response = deploy_files(owner, "frister.bpmn", overrides={"frister.bpmn": content})
            assert response.status_code == 201 and response.json()["processes"][0]["version"] == version
            case_id = start_case(kim, "sip_frist")["id"]
            deadline = _timers(kim, case_id)
            complete(kim, open_task(kim, case_id, "upprata_sip")["id"])
            seen.append((deadline, _timers(kim, case_id)))
        assert seen[0] == seen[1] and seen[0][0][0][2] == "P30D" and seen[0][1][0][2:] == ("R/P6M", True)


def _refused(product, files: dict[str, bytes]) -> list[dict]:
    with product.client("agda", *OWNER) as owner:
        before = owner.get("/process-definitions").json()
        response = owner.post("/process-definitions", files=[("files", (n, c, "application/xml")) for n, c in files.items()])
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert owner.get("/process-definitions").json() == before
        return response.json()["errors"]


def test_a_feel_cell_outside_the_subset_is_refused_naming_rule_and_column(product):
    cell = b'<inputEntry id="r2_in"><text>2</text>'
    bad = TABLE.replace(cell, b'<inputEntry id="r2_in"><text>&gt;= 2 %</text>')
    [error] = _refused(product, {"skolfranvaro.bpmn": LADDER, "skolfranvaro_trappa.dmn": bad})
    line = TABLE[:TABLE.index(cell)].count(b"\n") + 1
    assert error["file"] == "skolfranvaro_trappa.dmn" and error["element"] == "r_steg_2" and error["line"] == line
    assert "rule r_steg_2 (row 3), input column 'Nuvarande steg'" in error["message"]
    assert "FEEL input entry '>= 2 %'" in error["message"]


def test_another_expression_language_is_refused_saying_which_is_expected(product):
    juel_table = TABLE.replace(b'namespace="http://samverka.se/processer"',
                               b'namespace="http://samverka.se/processer" expressionLanguage="juel"')
    [error] = _refused(product, {"skolfranvaro.bpmn": LADDER, "skolfranvaro_trappa.dmn": juel_table})
    assert "'juel' is not supported" in error["message"] and "FEEL" in error["message"]
    js = LADDER.replace(b'id="Defs_skolfranvaro"', b'id="Defs_skolfranvaro" expressionLanguage="javascript"', 1)
    assert js != LADDER
    [error] = _refused(product, {"skolfranvaro.bpmn": js, "skolfranvaro_trappa.dmn": TABLE})
    assert "'javascript' is not supported" in error["message"] and "safe-python" in error["message"]


def test_a_juel_timer_gets_a_clear_refusal(product):
    juel = LADDER.replace(b">" + CHECK + b"<", b">${dur}<")
    [error] = _refused(product, {"skolfranvaro.bpmn": juel, "skolfranvaro_trappa.dmn": TABLE})
    assert error["element"] == "ingen_rapport_timer" and "is JUEL" in error["message"] and "'dur'" in error["message"]
    assert "invalid syntax" not in error["message"]
    bad_date = LADDER.replace(b">" + CHECK + b"<", b">2026-13-01<")
    [error] = _refused(product, {"skolfranvaro.bpmn": bad_date, "skolfranvaro_trappa.dmn": TABLE})
    assert error["element"] == "ingen_rapport_timer"


def test_a_time_date_literal_fires_at_that_moment(server):
    at_date = (FIXTURES / "vanta.bpmn").read_bytes().replace(
        b'<bpmn:timeDuration>"P30D"</bpmn:timeDuration>', b"<bpmn:timeDate>2026-02-01T08:00:00Z</bpmn:timeDate>")
    with server.client("agda", *OWNER) as owner, server.client("kim", "koordinator") as kim:
        assert deploy_files(owner, "vanta.bpmn", overrides={"vanta.bpmn": at_date}).status_code == 201
        case_id = start_case(kim, "vanta")["id"]
        [timer] = kim.get(f"/cases/{case_id}/timers").json()
        assert timer["expression"] == "2026-02-01T08:00:00Z" and timer["due_at"].startswith("2026-02-01T08:00:00")
        server.clock.advance(timedelta(days=20) - timedelta(hours=1))
        assert server.fire_timers() == []
        server.clock.advance(timedelta(hours=1))
        assert len(server.fire_timers()) == 1
        assert kim.get(f"/cases/{case_id}").json()["status"] == "completed"
