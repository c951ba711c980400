"""Who may see and do what: every route refuses whoever should be refused, and consent gates other agencies' data."""
from __future__ import annotations

import re

from fastapi.routing import APIRoute

from factories import FIXTURES, do, join, open_elements, sign_in, start_case
from forms_data import person, samtycke, sip
from test_hlt import HLT_MOTET, SAMORDNARE

MARKER = "behov-7f3a-hemligt"  # case data that must never reach anyone refused


def _a_case_with_everything(product) -> dict:
    """An HLT case with data, open work, a webhook and an API key, so that every route has something to refuse."""
    ids = {"key": "hlt", "version": "1", "name": "sip", "delivery_id": "1", "user": "hugo", "role": "hlt_motet",
           "incident_id": "inget", "migration_id": "ingen"}
    with product.client("hugo", *HLT_MOTET) as hugo:
        case = start_case(hugo, "hlt")
        do(hugo, case["id"], "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": MARKER,
                                               "tas_upp": True})
        ids["case_id"] = case["id"]
        ids["participant_id"] = hugo.get(f"/cases/{case['id']}/participants").json()[0]["id"]
        ids["task_id"] = open_elements(hugo, case["id"]) and hugo.get(f"/cases/{case['id']}").json()["open_tasks"][0]["id"]
    with product.client("ivar", "integrator") as ivar:
        ids["webhook_id"] = ivar.post("/webhooks", json={"url": "https://mottagare.example/hook"}).json()["id"]
        ids["job_id"] = ivar.post("/absence-reports", json=_bodies(ids)["post", "/absence-reports"]["json"],
                                  headers={"Prefer": "respond-async"}).json()["id"]
    with product.client("sys", "systemforvaltare") as admin:
        ids["key_id"] = admin.post("/api-keys", json={"name": "n", "scopes": ["events"]}).json()["id"]
    ids["process"], ids["measure"] = "hlt", "hlt_kontakt_7_dagar"
    return ids


def _bodies(ids: dict) -> dict:
    report = {"skola": "Skolan", "period_start": "2026-01-12", "period_slut": "2026-01-18",
              "rows": [{"elev": "barn-ref-17", "franvaro_procent": 40, "ogiltig_franvaro": True}]}
    return {
        ("post", "/cases"): {"json": {"process_key": "hlt", "data": {}}},
        ("post", "/cases/{case_id}/messages"): {"json": {"name": "samtycke_aterkallat", "data": {}}},
        ("post", "/cases/{case_id}/participants"): {"json": {"user": "inkraktare", "agency": "polis",
                                                             "role": "samordnare"}},
        ("post", "/tasks/{task_id}/complete"): {"json": {"data": samtycke()}},
        ("post", "/tasks/{task_id}/parts/{name}"): {"json": {"data": {"bedomning": "x"}}},
        ("post", "/cases/{case_id}/seats/{role}/handover"): {"json": {"participant_id": ids["participant_id"],
                                                                       "user": "inkraktare", "agency": "skola"}},
        ("post", "/cases/{case_id}/seats/{role}/appointments"): {"json": {"user": "inkraktare", "agency": "skola"}},
        ("post", "/webhooks"): {"json": {"url": "https://annan.example/hook"}},
        ("post", "/messages"): {"json": {"name": "samtycke_aterkallat", "correlation": {"case_id": ids["case_id"]}}},
        ("post", "/absence-reports"): {"json": report},
        ("post", "/api-keys"): {"json": {"name": "x", "scopes": ["*"]}},
        ("post", "/process-definitions/{key}/migrations"): {"json": {"to_version": 1}, "params": {"dry_run": "true"}},
        ("post", "/incidents/{incident_id}/data"): {"json": {"set": {"x": 1}}},
        ("post", "/access-log/extract"): {"json": {"personnummer": "150101-2387"}},
        ("post", "/engine-rest/deployment/create"): {"data": {"deployment-name": "loop"}, "files": [
            ("loop.bpmn", ("loop.bpmn", (FIXTURES / "loop.bpmn").read_bytes(), "application/xml")),
            *[(name, (name, (FIXTURES / "forms" / name).read_bytes(), "application/json"))
              for name in ("uppfoljning.schema.json", "fri_start.schema.json")]]},
        ("post", "/process-definitions"): {"files": [
            ("files", ("loop.bpmn", (FIXTURES / "loop.bpmn").read_bytes(), "application/xml")),
            *[("files", (name, (FIXTURES / "forms" / name).read_bytes(), "application/json"))
              for name in ("uppfoljning.schema.json", "fri_start.schema.json")]]},
    }


# Each principal that should be refused, and the routes it may use: these answer a success that shows nothing
# of the case. (POST /messages is open to caseworkers, but a message to a case they are not in is a 404.)
# The Modeler's /engine-rest calls are allowed like the process definitions they stand for.
CASEWORKER = {"GET /process-definitions", "GET /process-definitions/{key}",
              "GET /process-definitions/{key}/versions/{version}/bpmn", "GET /cases", "GET /tasks", "GET /deadlines",
              "GET /engine-rest/deployment", "GET /engine-rest/version", "GET /me"}
REPORTS = {"GET /reports/{process}", "GET /reports/{process}/charts/{measure}.svg", "GET /reports/{process}/term-report"}
REFUSED = {
    "no roles, no agency": (("nobody",), {"agency": None}, {"GET /me"}),
    "a caseworker outside the case": (("olle", "fritidsledare"), {"agency": "polis"}, CASEWORKER),
    "the same role, seat taken": (("hilda", "hlt_motet"), {"agency": "skola"}, CASEWORKER | {"POST /cases"}),
    # The case is at hugo's unit (the deployment's one, ""): the role's holders elsewhere are not reached.
    "the role at another unit of the same agency": (("hedvig", "hlt_motet"),
                                                     {"agency": "skola", "units": ("Tyrings skola",)},
                                                     CASEWORKER | {"POST /cases"}),
    "the role at another agency's unit": (("henrik", "hlt_motet"), {"agency": "socialtjanst", "units": ("IFO Hörby",)},
                                           CASEWORKER | {"POST /cases"}),
    # HLT gives socialsekreterare a lane (myndighetsutövning at any step), so she may raise a child too
    "a socialsekreterare of another area": (("sonja", "socialsekreterare"),
                                             {"agency": "socialtjanst", "units": ("IFO Hörby",)},
                                             CASEWORKER | {"POST /cases"}),
    "a process owner": (("agda", "processagare"), {"agency": None},
                        {"GET /process-definitions", "GET /process-definitions/{key}",
                         "GET /process-definitions/{key}/versions/{version}/bpmn", "POST /process-definitions",
                         "GET /process-definitions/{key}/figures", "GET /engine-rest/version",
                         "GET /incidents", "POST /process-definitions/{key}/migrations",
                         "POST /cases/{case_id}/suspend", "POST /cases/{case_id}/resume",
                         "GET /engine-rest/deployment", "POST /engine-rest/deployment/create", "GET /me"} | REPORTS),
    "the steering group": (("lena", "ledning"), {"agency": "skola"}, REPORTS | {"GET /me"}),
    "an integrator": (("nils", "integrator"), {"scopes": ("events", "webhooks", "absence:*")},
                      {"GET /events", "GET /webhooks", "POST /webhooks", "POST /absence-reports", "GET /me"}),
}


SCIM = "/scim/v2/"  # answers SCIM errors, not problems; its refusals are walked in test_scim.py


def _api_routes(routes):
    """The API's routes as the router holds them (routers are included without a prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # how FastAPI keeps an included router
            yield from _api_routes(route.original_router.routes)


def test_every_route_refuses_whoever_should_be_refused_and_never_shows_case_data(product):
    ids = _a_case_with_everything(product)
    bodies = _bodies(ids)
    # The routes as the router serves them (the Modeler's /engine-rest ones included, which the OpenAPI
    # document leaves out), not as the schema lists them.
    paths: dict[str, set[str]] = {}
    for api_route in _api_routes(product.app.routes):
        if api_route.path != "/health" and not api_route.path.startswith(SCIM):
            paths.setdefault(api_route.path, set()).update(m.lower() for m in api_route.methods - {"HEAD"})
    with product.client("hugo", *HLT_MOTET) as hugo:
        before = hugo.get(f"/cases/{ids['case_id']}").json()
    walked = set()
    for who, (identity, options, allowed) in REFUSED.items():
        with product.client(*identity, **options) as client:
            for path, methods in sorted(paths.items()):
                for method in sorted(methods):
                    route = f"{method.upper()} {path}"
                    walked.add(route)
                    concrete = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
                    response = client.request(method, concrete, **bodies.get((method, path), {}))
                    assert MARKER not in response.text, (who, route)
                    if route in allowed:
                        assert 200 <= response.status_code < 300, (who, route, response.text)
                        if route in ("GET /cases", "GET /tasks", "GET /deadlines"):  # events name cases by design
                            assert ids["case_id"] not in response.text, (who, route)
                    else:
                        assert response.status_code in (403, 404), (who, route, response.text)
                        assert response.headers["content-type"] == "application/problem+json"
    # Every route the app serves was walked (read from the router, not from the schema the walk iterated).
    served = {f"{method} {route.path}" for route in _api_routes(product.app.routes)
              for method in route.methods - {"HEAD"} if route.path != "/health" and not route.path.startswith(SCIM)}
    assert walked == served and len(served) > 30
    for who, (_, _, allowed) in REFUSED.items():
        assert allowed <= served, (who, allowed - served)  # a misspelt allowed route would never be checked
    with product.client("hugo", *HLT_MOTET) as hugo:
        after = hugo.get(f"/cases/{ids['case_id']}").json()
        assert after["data"] == before["data"] and after["open_tasks"] == before["open_tasks"], "nothing changed"
        assert [p["user"] for p in hugo.get(f"/cases/{ids['case_id']}/participants").json()] == ["hugo"]


def _shared_case(hugo, sara, omfattning: list[str]) -> str:
    sign_in(sara)
    case = start_case(hugo, "hlt")
    do(hugo, case["id"], "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": MARKER,
                                           "tas_upp": True})
    do(hugo, case["id"], "samtycke", samtycke(omfattning=omfattning))
    do(hugo, case["id"], "sammankallande", {"traffar_familjen": [person("sara", "socialtjanst", "socialsekreterare")],
                                            "samordnare": person("sara", "socialtjanst", "socialsekreterare")})
    do(sara, case["id"], "upprata_sip", sip())
    return case["id"]


def _school_and_social_services(product):
    return product.client("hugo", *HLT_MOTET), product.client("sara", *SAMORDNARE, agency="socialtjanst")


def test_consent_lets_agencies_see_each_others_data_and_withdrawal_cuts_it_at_the_next_request(product):
    hugo, sara = _school_and_social_services(product)
    with hugo, sara:
        case_id = _shared_case(hugo, sara, ["skola", "socialtjanst"])
        assert "sip" in hugo.get(f"/cases/{case_id}").json()["data"], "the school sees social services' SIP"
        assert sara.get(f"/cases/{case_id}").json()["data"]["behov"] == MARKER, "and they see the school's"
        assert hugo.get(f"/cases/{case_id}/documents/sip").status_code == 200
        withdrawn = hugo.post(f"/cases/{case_id}/messages", json={"name": "samtycke_aterkallat", "data": {}})
        assert withdrawn.status_code == 200 and "sip" not in withdrawn.json()["data"]
        assert "sip" not in hugo.get(f"/cases/{case_id}").json()["data"]
        assert "behov" not in sara.get(f"/cases/{case_id}").json()["data"]
        assert sara.get(f"/cases/{case_id}").json()["data"]["sip"]["datum"] == "2026-01-30", "her own stays"
        assert hugo.get(f"/cases/{case_id}/documents/sip").status_code == 409
        history = sara.get(f"/cases/{case_id}/history").json()["items"]
        school_steps = [h for h in history if h["actor"]["agency"] == "skola" and h["event"] == "task_completed"]
        assert school_steps and all(h["redacted"] and h["data_changes"] is None for h in school_steps)
        assert MARKER not in sara.get(f"/cases/{case_id}/history").text


def test_consent_that_does_not_name_an_agency_shares_nothing_with_it(product):
    hugo, sara = _school_and_social_services(product)
    with hugo, sara:
        case_id = _shared_case(hugo, sara, ["skola", "halso_sjukvard"])
        assert "behov" not in sara.get(f"/cases/{case_id}").json()["data"]
        assert "sip" not in hugo.get(f"/cases/{case_id}").json()["data"]


def test_a_task_is_for_its_role_in_its_case(product):
    with product.client("hugo", *HLT_MOTET) as hugo, product.client("hilda", *HLT_MOTET) as hilda, \
            product.client("sam", *SAMORDNARE) as sam, product.client("cia", "chef") as cia:
        sign_in(sam, cia, hilda)
        case = start_case(hugo, "hlt")
        task = case["open_tasks"][0]
        assert [t["id"] for t in hilda.get("/tasks").json()["items"]] == [], "hugo holds the school's seat"
        assert hilda.post(f"/tasks/{task['id']}/claim").status_code == 404
        assert sam.post(f"/tasks/{task['id']}/claim").status_code == 404, "not a samordnare task, not his case"
        appointed = hugo.post(f"/cases/{case['id']}/participants", json={"user": "sam", "agency": "skola",
                                                                         "role": "samordnare"})
        assert appointed.status_code == 422 and "appointed" in appointed.json()["detail"], "the meeting appoints him"
        taken = hugo.post(f"/cases/{case['id']}/participants", json={"user": "hilda", "agency": "skola",
                                                                     "role": "HLT-mötet"})
        assert taken.status_code == 409, "one key person per agency"
        join(hugo, case["id"], "cia", "skola", "chef")
        assert cia.post(f"/tasks/{task['id']}/claim").status_code == 403, "in the case, but not in that role"
        again = hugo.post(f"/cases/{case['id']}/participants", json={"user": "cia", "agency": "skola", "role": "Chef"})
        assert again.status_code == 201 and again.json()["source"] == "added", "already there: the same row"
        rows = hugo.get(f"/cases/{case['id']}/participants").json()
        assert [(p["user"], p["role"]) for p in rows] == [("hugo", "hlt_motet"), ("cia", "chef")]
        cia_row = rows[1]["id"]
        assert cia.get(f"/cases/{case['id']}").status_code == 200
        assert sam.delete(f"/cases/{case['id']}/participants/{cia_row}").status_code == 404, "not his case"
        assert hugo.delete(f"/cases/{case['id']}/participants/{cia_row}").status_code == 204
        assert cia.get(f"/cases/{case['id']}").status_code == 404, "her access ended at the next request"
        assert hugo.delete(f"/cases/{case['id']}/participants/{cia_row}").status_code == 404
        bad_role = hugo.post(f"/cases/{case['id']}/participants", json={"user": "x", "agency": "skola", "role": "kung"})
        assert bad_role.status_code == 422 and bad_role.json()["errors"][0]["location"] == "/role"
        unknown = hugo.post(f"/cases/{case['id']}/participants", json={"user": "x", "agency": "skola", "role": "chef"})
        assert unknown.status_code == 422 and "directory" in unknown.json()["detail"], "a made-up user fills no seat"
        not_chef = hugo.post(f"/cases/{case['id']}/participants", json={"user": "sam", "agency": "skola",
                                                                        "role": "chef"})
        assert not_chef.status_code == 422 and "does not hold the role chef" in not_chef.json()["detail"]


def test_integrators_send_messages_only_to_the_processes_their_scopes_name(product):
    with product.client("hugo", *HLT_MOTET) as hugo, \
            product.client("nils", "integrator", scopes=("messages:skolfranvaro",)) as ladder_only, \
            product.client("nora", "integrator", scopes=("messages:hlt",)) as hlt_client:
        case_id = start_case(hugo, "hlt")["id"]
        message = {"name": "samtycke_aterkallat", "correlation": {"case_id": case_id}}
        # The case is outside the client's scopes: invisible to it, so it learns nothing of the child's HLT case
        unseen = ladder_only.post("/messages", json=message)
        assert unseen.status_code == 404 and "hlt" not in unseen.json()["detail"]
        assert hugo.get(f"/cases/{case_id}").json()["status"] == "open"
        delivered = hlt_client.post("/messages", json=message)
        assert delivered.status_code == 200 and delivered.json()["delivered_to"] == [case_id]
        assert "data" not in delivered.json(), "a client learns where it went, not what the case holds"
        assert hlt_client.get(f"/cases/{case_id}").status_code == 404
