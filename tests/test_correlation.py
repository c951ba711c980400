"""Facts reach only the case they are about: one case per correlation, keys nobody can forge, no oracle."""
from __future__ import annotations

from factories import SKOLA, do, sign_in, start_case
from forms_data import person, samtycke

from test_hlt import HLT_MOTET
from test_vastbas import SAMORDNARE as VASTBAS_SAMORDNARE

PNR, OTHER_PNR = "201501012387", "191212121212"
MENTOR = ("mentor",)
REPORT = {"period_start": "2026-01-12", "period_slut": "2026-01-18", "franvaro_procent": 7,
          "ogiltig_franvaro": False}


def history_events(client, case_id: str) -> list[str]:
    return [e["event"] for e in client.get(f"/cases/{case_id}/history", params={"limit": 500}).json()["items"]]


def test_a_correlation_that_names_only_the_process_reaches_no_case(product):
    with product.client("mats", *MENTOR) as mentor, \
            product.client("nils", "integrator", scopes=("messages:skolfranvaro",)) as client:
        cases = [start_case(mentor, "skolfranvaro", skola=SKOLA, elev=elev)["id"] for elev in ("1001", "1002")]
        fan_out = client.post("/messages", json={"name": "franvarorapport", "data": REPORT,
                                                 "correlation": {"process_key": "skolfranvaro"}})
        assert fan_out.status_code == 422 and fan_out.json()["errors"][0]["location"] == "/correlation"
        for case_id in cases:
            assert "message_received" not in history_events(mentor, case_id)


def test_several_matching_cases_are_a_conflict_that_reveals_nothing_unless_all_is_asked_for(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *VASTBAS_SAMORDNARE) as samordnare, \
            product.client("nora", "integrator", scopes=("messages:*",)) as client, \
            product.client("alma", "integrator", scopes=("messages:*", "messages-all:hlt",
                                                         "messages-all:vastbas")) as broadcaster:
        hlt = motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR}).json()["id"]
        vastbas = samordnare.post("/cases", json={"process_key": "vastbas", "barn_personnummer": PNR}).json()["id"]
        withdrawn = {"name": "samtycke_aterkallat", "correlation": {"personnummer": PNR}, "data": {}}
        ambiguous = client.post("/messages", json=withdrawn)
        assert ambiguous.status_code == 409
        assert hlt not in ambiguous.text and vastbas not in ambiguous.text and "2" not in ambiguous.json()["detail"]
        assert client.post("/messages", json={**withdrawn, "all": True}).status_code == 403  # needs its own scope
        narrowed = client.post("/messages", json={**withdrawn, "correlation": {"personnummer": PNR,
                                                                              "process_key": "hlt"}})
        assert narrowed.status_code == 200 and narrowed.json()["delivered_to"] == [hlt]
        to_all = broadcaster.post("/messages", json={**withdrawn, "all": True})
        assert to_all.status_code == 200 and sorted(to_all.json()["delivered_to"]) == sorted([hlt, vastbas])
        nobody = client.post("/messages", json={**withdrawn, "correlation": {"personnummer": OTHER_PNR}})
        assert nobody.status_code == 404


def test_a_schools_report_never_reaches_another_schools_pupil_with_the_same_reference(product):
    with product.client("mats", *MENTOR) as mentor, \
            product.client("hoor", "integrator", scopes=("absence:skolan_i_hoor",)) as hoor, \
            product.client("tyra", "integrator", scopes=("absence:tyrings_skola",)) as tyringe:
        ours = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="1001")["id"]
        theirs = start_case(mentor, "skolfranvaro", skola="Tyrings skola", elev="1001")["id"]
        for week in range(3):  # three periods under 5 % would close a case at rung 0
            start = f"2026-01-{12 + 7 * week}"
            report = {"skola": "Tyrings skola", "period_start": start, "period_slut": start,
                      "rows": [{"elev": "1001", "franvaro_procent": 0, "ogiltig_franvaro": False}]}
            assert tyringe.post("/absence-reports", json=report).json()["delivered"] == 1
        assert mentor.get(f"/cases/{theirs}").json()["status"] == "completed"
        assert mentor.get(f"/cases/{ours}").json()["status"] == "open"
        assert "message_received" not in history_events(mentor, ours)
        crossing = hoor.post("/absence-reports", json={**report, "rows": report["rows"]})
        assert crossing.status_code == 403  # a client for one school never reports for another


def test_keys_come_from_a_trusted_source_and_two_open_cases_never_share_one(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("mats", *MENTOR) as mentor:
        forged = motet.post("/cases", json={"process_key": "hlt", "data": {"barn": "2002"}})
        assert forged.status_code == 422 and [e["location"] for e in forged.json()["errors"]] == ["/data/barn"]
        start_case(mentor, "skolfranvaro", skola=SKOLA, elev="1001")
        twin = mentor.post("/cases", json={"process_key": "skolfranvaro", "data": {"skola": SKOLA, "elev": "1001"}})
        assert twin.status_code == 409
        smuggled = mentor.post("/cases", json={"process_key": "skolfranvaro",
                                               "data": {"skola": SKOLA, "elev": "1003", "barn": "2002"}})
        assert smuggled.status_code == 422 and "barn" in smuggled.text


def test_consent_comes_only_from_the_consent_step(product):
    with product.client("hugo", *HLT_MOTET) as motet, \
            product.client("sara", "samordnare", agency="socialtjanst") as sara:
        sign_in(sara)
        given = {"samtycke": {"lamnat": True, "omfattning": ["skola", "socialtjanst"]}}
        refused = motet.post("/cases", json={"process_key": "hlt", "data": given})
        assert refused.status_code == 422 and refused.json()["errors"][0]["location"] == "/data/samtycke"
        case_id = start_case(motet, "hlt")["id"]
        do(motet, case_id, "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False,
                                             "behov": "Skolans oro", "tas_upp": True})
        sneaked = motet.post(f"/tasks/{motet.get(f'/cases/{case_id}').json()['open_tasks'][0]['id']}/complete",
                             json={"data": {**samtycke(), "extra": 1}})
        assert sneaked.status_code == 422  # the consent form itself is validated, field by field
        do(motet, case_id, "samtycke", samtycke())
        do(motet, case_id, "sammankallande", {"traffar_familjen": [person("sara", "socialtjanst")],
                                              "samordnare": person("sara", "socialtjanst")})
        assert sara.get(f"/cases/{case_id}").json()["data"]["behov"] == "Skolans oro"


def test_the_childs_number_is_shown_like_the_data_of_the_agency_that_registered_it(product):
    with product.client("hugo", *HLT_MOTET) as motet, \
            product.client("sara", "hlt_motet", agency="socialtjanst") as sara:
        sign_in(sara)
        case_id = motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR}).json()["id"]
        assert motet.get(f"/cases/{case_id}").json()["barn_personnummer"] == PNR
        do(motet, case_id, "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": "Oro",
                                             "tas_upp": True})
        added = motet.post(f"/cases/{case_id}/participants", json={"user": "sara", "agency": "socialtjanst",
                                                                    "role": "hlt_motet"})
        assert added.status_code == 201, added.text  # social services' key person
        before = sara.get(f"/cases/{case_id}").json()
        assert before["barn_personnummer"] is None and "barn" not in before["data"]  # no consent yet
        do(motet, case_id, "samtycke", samtycke())
        assert sara.get(f"/cases/{case_id}").json()["barn_personnummer"] == PNR
        sara.post(f"/cases/{case_id}/messages", json={"name": "samtycke_aterkallat", "data": {}})
        assert sara.get(f"/cases/{case_id}").json()["barn_personnummer"] is None
        assert motet.get(f"/cases/{case_id}").json()["barn_personnummer"] == PNR


def test_the_network_kallelse_names_the_child_and_never_prints_the_number(product):
    from test_vastbas import KOORDINATOR, offered

    with product.client("sam", *VASTBAS_SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koord:
        case_id = offered(product, samordnare, koord, personnummer=PNR)
        kallelse = koord.get(f"/cases/{case_id}/documents/kallelse")
        assert kallelse.status_code == 200 and "kring Elsa" in kallelse.text
        for spelling in (PNR, PNR[2:], f"{PNR[:8]}-{PNR[8:]}", f"{PNR[2:8]}-{PNR[8:]}"):
            assert spelling not in kallelse.text


def test_cases_outside_a_clients_scopes_are_invisible_to_it(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("mats", *MENTOR) as mentor, \
            product.client("skol", "integrator", scopes=("messages:skolfranvaro",)) as school:
        motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR})
        report = {"name": "franvarorapport", "correlation": {"personnummer": PNR}, "data": REPORT}
        only_hlt = school.post("/messages", json=report)
        assert only_hlt.status_code == 404 and "hlt" not in only_hlt.text and "messages:" not in only_hlt.text
        withdrawal = school.post("/messages", json={"name": "samtycke_aterkallat", "data": {},
                                                    "correlation": {"personnummer": PNR}})
        assert withdrawal.status_code == 404  # the same answer as for a child nobody knows
        ladder = mentor.post("/cases", json={"process_key": "skolfranvaro", "barn_personnummer": PNR,
                                             "data": {"skola": SKOLA, "elev": "1001"}}).json()["id"]
        delivered = school.post("/messages", json=report)
        assert delivered.status_code == 200 and delivered.json()["delivered_to"] == [ladder]


def test_two_schools_import_the_same_period_then_send_it_again_and_nothing_changes(product):
    with product.client("mats", *MENTOR) as mentor, \
            product.client("hoor", "integrator", scopes=("absence:skolan_i_hoor",)) as hoor, \
            product.client("tyra", "integrator", scopes=("absence:tyrings_skola",)) as tyringe:
        existing = {school: start_case(mentor, "skolfranvaro", skola=school, elev="1001")["id"]
                    for school in (SKOLA, "Tyrings skola")}
        rows = {SKOLA: [(ref, p) for ref, p in (("1001", 12), ("1002", 16), ("1003", 1))],
                "Tyrings skola": [(ref, p) for ref, p in (("1001", 2), ("1002", 22), ("1004", 15))]}

        def send(client, school):
            return client.post("/absence-reports", json={
                "skola": school, "period_start": "2026-02-02", "period_slut": "2026-02-08",
                "rows": [{"elev": ref, "franvaro_procent": p, "ogiltig_franvaro": False} for ref, p in rows[school]]})

        first = {SKOLA: send(hoor, SKOLA).json(), "Tyrings skola": send(tyringe, "Tyrings skola").json()}
        assert (first[SKOLA]["delivered"], first[SKOLA]["started"]) == (2, 1)
        assert (first["Tyrings skola"]["delivered"], first["Tyrings skola"]["started"]) == (3, 2)
        ours, theirs = (mentor.get(f"/cases/{existing[s]}").json()["data"] for s in (SKOLA, "Tyrings skola"))
        assert ours["franvarorapport"]["franvaro_procent"] == 12 and ours["skola"] == SKOLA
        assert theirs["franvarorapport"]["franvaro_procent"] == 2 and theirs["skola"] == "Tyrings skola"
        with product.client("staff", "mentor", "eht", "rektor") as staff:
            before = {t["case_id"]: t["id"] for t in staff.get("/tasks", params={"limit": 100}).json()["items"]}
            versions = {c: history_events(staff, c) for c in before}
            again = {SKOLA: send(hoor, SKOLA).json(), "Tyrings skola": send(tyringe, "Tyrings skola").json()}
            assert [a["unchanged"] for a in again.values()] == [2, 3]
            assert all(a["delivered"] == a["started"] == 0 and not a["failed"] for a in again.values())
            assert {c: history_events(staff, c) for c in before} == versions  # no case changed at all
        forged = mentor.post("/cases", json={"process_key": "skolfranvaro",
                                             "data": {"skola": SKOLA, "elev": "1005", "barn": "1001"}})
        assert forged.status_code == 422
