"""Hostile input is refused with a clear 4xx, and nothing of it runs or is stored."""
from __future__ import annotations

import json

import httpx
import pytest
from factories import FIXTURES, OWNER, deploy_files, deployed, start_case

LOOP = (FIXTURES / "loop.bpmn").read_bytes()
ENKEL = (FIXTURES / "enkel.bpmn").read_bytes()
BODY = LOOP.split(b"?>", 1)[1]
LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
                     for n in range(1, 10)) + b"]>\n")


def _deploy_refused(server, content: bytes, name: str = "loop.bpmn") -> dict:
    with server.client("agda", *OWNER) as owner:
        response = deploy_files(owner, name, overrides={name: content})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert owner.get("/process-definitions").json() == [], "nothing was stored"
        return response.json()


@pytest.mark.parametrize("content, rule", [
    (b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' + BODY, "forbidden XML"),
    (LAUGHS + BODY, "forbidden XML"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">\n' + BODY, "forbidden XML"),
], ids=["external entity", "billion laughs", "external DTD"])
def test_xml_with_entities_or_a_dtd_is_refused(server, content, rule):
    assert rule in _deploy_refused(server, content)["errors"][0]["message"]


@pytest.mark.parametrize("expression", [
    "().__class__.__bases__[0].__subclasses__()",
    "fortsatt.__globals__",
    "(lambda: 1)()",
    "[x for x in ().__class__.__mro__]",
    "open('/etc/passwd').read()",
    "getattr(fortsatt, '__class__')",
])
def test_expressions_that_try_to_leave_the_evaluator_are_refused(server, expression):
    bad = LOOP.replace(b">fortsatt == True<", b">" + expression.replace("<", "&lt;").encode() + b"<")
    [error] = _deploy_refused(server, bad)["errors"]
    assert error["element"] == "f_again" and error["line"]


def test_a_form_key_that_is_a_path_is_refused(server):
    bad = ENKEL.replace(b'camunda:formKey="registrering"', b'camunda:formKey="../../../etc/passwd"')
    [error] = _deploy_refused(server, bad, "enkel.bpmn")["errors"]
    assert error["element"] == "registrera" and "not a path" in error["message"]


def test_oversized_bodies_are_refused_whether_or_not_they_say_their_size(server):
    limit = server.settings.max_request_bytes
    deployed(server, "enkel.bpmn")
    with server.client("hanna", "handläggare") as hanna:
        big = json.dumps({"process_key": "enkel", "data": {"x": "a" * (limit + 1)}}).encode()
        declared = hanna.post("/cases", content=big, headers={"content-type": "application/json"})
        assert declared.status_code == 413 and declared.json()["type"].endswith("payload-too-large")

        def chunks():
            for start in range(0, len(big), 65536):
                yield big[start:start + 65536]
        streamed = hanna.post("/cases", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert hanna.get("/cases").json()["items"] == [], "nothing was stored"
    with server.client("agda", *OWNER) as owner:
        file = LOOP + b"<!--" + b"x" * server.settings.max_upload_bytes + b"-->"
        assert deploy_files(owner, "loop.bpmn", overrides={"loop.bpmn": file}).status_code == 422


def test_json_nested_a_thousand_levels_deep_is_refused_before_parsing(server):
    deployed(server, "enkel.bpmn")
    with server.client("hanna", "handläggare") as hanna:
        deep = '{"process_key": "enkel", "data": {"x": ' + "[" * 1000 + "]" * 1000 + "}}"
        response = hanna.post("/cases", content=deep, headers={"content-type": "application/json"})
        assert response.status_code == 422 and response.json()["errors"][0]["location"] == "/body"
        fine = '{"process_key": "enkel", "data": {"x": "' + "[" * 1000 + '"}}'  # brackets inside a string
        assert hanna.post("/cases", content=fine, headers={"content-type": "application/json"}).status_code == 201
        case = start_case(hanna, "enkel")
        task = case["open_tasks"][0]["id"]
        nested = {"data": {"barn_ref": "B", "inkom": "2026-01-12"}}
        for _ in range(200):
            nested = {"n": nested}
        assert hanna.post(f"/tasks/{task}/complete", json=nested).status_code == 422


def test_names_with_dot_dot_slash_are_unknown_names_not_paths(server):
    deployed(server, "enkel.bpmn")
    with server.client("hanna", "handläggare") as hanna:
        case_id = start_case(hanna, "enkel")["id"]
        for name in ("..%2F..%2Fetc%2Fpasswd", "..%2Ftemplates%2F_bas", "%2E%2E", "sip%00.html"):
            response = hanna.get(f"/cases/{case_id}/documents/{name}")
            assert response.status_code == 404, name
            assert "root:" not in response.text


def test_filter_parameters_carrying_sql_find_nothing_and_change_nothing(server):
    deployed(server, "enkel.bpmn")
    with server.client("hanna", "handläggare") as hanna:
        start_case(hanna, "enkel")
        for params in ({"process_key": "x' OR '1'='1"}, {"process_key": "enkel'; DROP TABLE \"case\"; --"},
                       {"candidate_group": "' OR 1=1 --"}, {"assignee": "x\" OR \"\"=\""}):
            path = "/tasks" if "process_key" not in params or "candidate_group" in params else "/cases"
            response = hanna.get(path, params=params)
            assert response.status_code == 200 and response.json()["items"] == [], params
        for path, params in (("/cases", {"status": "open' OR 1=1"}), ("/cases", {"cursor": "' UNION SELECT *"}),
                             ("/tasks", {"sort": "created_at; DROP TABLE user_task"}),
                             ("/tasks", {"due_before": "2026-01-01' OR 1=1"})):
            response = hanna.get(path, params=params)
            assert response.status_code == 422 and response.json()["errors"], (path, params)
        assert len(hanna.get("/cases").json()["items"]) == 1 and len(hanna.get("/tasks").json()["items"]) == 1


def test_bodies_that_are_not_what_they_claim_get_a_problem_not_a_crash(server):
    with server.client("hanna", "handläggare") as hanna:
        for content, kind in ((b"\xff\xfe not json", "application/json"), (b"{", "application/json"),
                              (b"[]", "application/json"), (b"a=1", "application/x-www-form-urlencoded"),
                              (b'{"process_key": "\\ud800"}', "application/json")):
            response = hanna.post("/cases", content=content, headers={"content-type": kind})
            assert 400 <= response.status_code < 500 and response.headers["content-type"] == "application/problem+json"
    with httpx.Client(base_url=server.base_url) as anonymous:
        assert anonymous.post("/cases", content=b"[" * 100000,
                              headers={"content-type": "application/json"}).status_code in (401, 422)


def test_values_the_database_cannot_hold_are_a_problem_not_a_crash(server):
    deployed(server, "enkel.bpmn")
    with server.client("hanna", "handläggare") as hanna, server.client("agda", *OWNER) as owner:
        assert owner.get("/process-definitions/enkel/versions/99999999999/bpmn").status_code == 422
        for params in ({"process_key": "a\x00b"}, {"status": "open", "process_key": "\x00"}):
            response = hanna.get("/cases", params=params)
            assert response.status_code in (200, 422) and response.headers["content-type"].startswith("application/")
        nul = hanna.post("/cases", json={"process_key": "enkel", "data": {"x": "a\u0000b"}})
        assert nul.status_code in (201, 422), nul.text


def test_values_no_answer_could_carry_are_refused_before_they_are_stored(server):
    deployed(server, "enkel.bpmn")
    with server.client("hanna", "handlaggare") as hanna:
        case_id = start_case(hanna, "enkel")["id"]
        json_type = {"content-type": "application/json"}
        for body, location in ((b'{"process_key": "enkel", "data": {"note": "\\ud800"}}', "/body/data/note"),
                               (b'{"process_key": "enkel", "data": {"\\udfff": 1}}', "/body/data"),
                               (b'{"process_key": "enkel", "data": {"x": NaN}}', "/body"),
                               (b'{"process_key": "enkel", "data": {"x": -Infinity}}', "/body")):
            refused = hanna.post("/cases", content=body, headers=json_type)
            assert refused.status_code == 422 and refused.json()["errors"][0]["location"] == location, body
        message = hanna.post(f"/cases/{case_id}/messages", content=b'{"name": "x", "data": {"t": "a\\udbff"}}',
                             headers=json_type)
        assert message.status_code == 422
        paired = hanna.post("/cases", content='{"process_key": "enkel", "data": {"t": "\\ud83d\\ude00 NaN"}}',
                            headers=json_type)  # a surrogate pair is one character; NaN in a string is text
        assert paired.status_code == 201 and paired.json()["data"]["t"] == "😀 NaN"
        assert hanna.get(f"/cases/{case_id}").status_code == 200 and hanna.get(f"/cases/{case_id}/history").is_success


def test_a_media_type_in_capitals_is_still_held_to_the_depth_limit(server):
    with server.client("hanna", "handlaggare") as hanna:
        deep = b'{"process_key": "enkel", "data": ' + b"[" * 600 + b"]" * 600 + b"}"
        refused = hanna.post("/cases", content=deep, headers={"content-type": "Application/JSON"})
        assert refused.status_code == 422 and "nested" in refused.json()["detail"]


@pytest.mark.parametrize("path", ["/cases", "/tasks", "/deadlines", "/cases/{case}/history"])
def test_hand_made_cursors_are_a_problem_not_a_crash(server, path):
    import base64
    deployed(server, "enkel.bpmn")
    with server.client("hanna", "handlaggare") as hanna:
        case_id = start_case(hanna, "enkel")["id"]
        for values in ([10 ** 30], [[1, [2]]], ["2026-01-01T00:00:00", 10 ** 30], [True], ["x" * 5000], [None],
                       ["not a date", "id"], [1.5]):
            cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
            answer = hanna.get(path.format(case=case_id), params={"cursor": cursor})
            assert answer.status_code == 422 and answer.json()["errors"][0]["location"] == "/cursor", (path, values)
