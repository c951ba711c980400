"""HLT, driven only through the REST API as the roles would: every path from aktualisering to avslut."""
from __future__ import annotations

from datetime import timedelta

from conftest import START
from factories import do, events, open_elements, open_task, sign_in, start_case
from forms_data import eskalering, person, samtycke, sdq, sip, skattning

HLT_MOTET, SAMORDNARE, CHEF = ("hlt_motet",), ("samordnare",), ("chef",)


def aktualisera(motet, akut: bool = False, tas_upp: bool = True) -> str:
    case = start_case(motet, "hlt")
    data = {"aktualiserad_av": person("lisa", "skola", "larare"), "akut": akut, "behov": "Hög frånvaro, oro",
            "tas_upp": tas_upp}
    if not tas_upp:
        data["hanvisning"] = "Ungdomsmottagningen"
    do(motet, case["id"], "aktualisering", data)
    return case["id"]


def to_follow_up(motet, samordnare) -> str:
    """A case at its first follow-up: the HLT meeting appointed the samordnare's person (known to the directory)."""
    sign_in(samordnare)
    case_id = aktualisera(motet)
    do(motet, case_id, "samtycke", samtycke())
    do(motet, case_id, "sammankallande", {"traffar_familjen": [person("sam")], "samordnare": person("sam")})
    do(samordnare, case_id, "upprata_sip", sip())
    do(samordnare, case_id, "bedomning", {"sdq": sdq(), "svarigheter_och_behov": "Ångest inför skolan",
                                          "risk_och_skyddsbedomning_gjord": True})
    do(samordnare, case_id, "planering", {"planering": {
        "stod": "Samtal och anpassningar", "kontakt_datum": "2026-02-02", "kortsiktiga_mal": "Närvaro 50 %",
        "langsiktiga_mal": "Full närvaro", "hur_vi_vet": "Närvarostatistik"}})
    do(samordnare, case_id, "insats", {"ors": skattning(5, 5, 6, 6), "srs": skattning(9, 9, 9, 9), "enligt_plan": True})
    return case_id


def test_happy_path_from_aktualisering_to_avslut(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        case_id = to_follow_up(motet, samordnare)
        data = samordnare.get(f"/cases/{case_id}").json()["data"]
        assert data["sdq_resultat"]["total_svarigheter"] == 20 and data["sdq_resultat"]["niva"] == "avvikande"
        assert data["ors_resultat"] == {"total": 22, "klinisk_grans": 28, "under_klinisk_grans": True}
        assert data["srs_resultat"] == {"total": 36, "alliansvarning": True}
        follow_up = {"sdq": sdq(svar=[0] * 25), "ors": skattning(8, 8, 8, 8), "sip_avstamning": "Planen följs"}
        do(samordnare, case_id, "uppfoljning", {**follow_up, "fortsatt": True})
        do(samordnare, case_id, "insats", {"ors": skattning(), "srs": skattning(), "enligt_plan": True})
        do(samordnare, case_id, "uppfoljning", {**follow_up, "fortsatt": False})
        do(samordnare, case_id, "avslut", {"sdq": sdq(svar=[0] * 25), "avslut_kommentar": "Målen nådda"})
        case = samordnare.get(f"/cases/{case_id}").json()
        assert case["status"] == "completed" and case["data"]["sdq_resultat"]["niva"] == "normal"
        assert ("element_completed", "avslutat") in events(samordnare, case_id)


def test_a_child_not_taken_up_is_referred_and_closed(product):
    with product.client("hugo", *HLT_MOTET) as motet:
        case = start_case(motet, "hlt")
        missing = do(motet, case["id"], "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False,
                                                            "behov": "Oro", "tas_upp": False}, status=422)
        assert [e["location"] for e in missing["errors"]] == ["/data"] and "hanvisning" in missing["errors"][0]["message"]
        case_id = aktualisera(motet, tas_upp=False)
        case = motet.get(f"/cases/{case_id}").json()
        assert case["status"] == "completed" and case["data"]["hanvisning"] == "Ungdomsmottagningen"
        assert ("element_completed", "hanvisad") in events(motet, case_id)


def test_consent_nej_closes_the_case_with_a_recorded_referral(product):
    with product.client("hugo", *HLT_MOTET) as motet:
        case_id = aktualisera(motet)
        do(motet, case_id, "samtycke", samtycke(lamnat=False))
        assert open_elements(motet, case_id) == ["registrera_hanvisning"]
        do(motet, case_id, "registrera_hanvisning", {"hanvisning": "Familjen hänvisas till BUP direkt"})
        case = motet.get(f"/cases/{case_id}").json()
        assert case["status"] == "completed" and case["data"]["samtycke"]["lamnat"] is False
        assert case["data"]["hanvisning"] == "Familjen hänvisas till BUP direkt"
        assert ("element_completed", "avslutat_utan_samtycke") in events(motet, case_id)
        assert ("task_created", "sammankallande") not in events(motet, case_id)  # no cross-agency meeting


def test_consent_from_fifteen_needs_the_childs_own(product):
    with product.client("hugo", *HLT_MOTET) as motet:
        case_id = aktualisera(motet)
        refused = do(motet, case_id, "samtycke", samtycke(alder=15), status=422)
        assert refused["errors"][0]["location"] == "/data/samtycke"
        assert "barnets_samtycke" in refused["errors"][0]["message"]
        do(motet, case_id, "samtycke", samtycke(alder=15, barnets_samtycke=True))


def test_consent_withdrawn_mid_case_stops_all_work_at_once(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        case_id = to_follow_up(motet, samordnare)
        assert open_elements(samordnare, case_id) == ["uppfoljning"]
        with product.client("olle", "rektor") as outsider:
            refused = outsider.post(f"/cases/{case_id}/messages", json={"name": "samtycke_aterkallat", "data": {}})
            assert refused.status_code == 404, "not in the case: it does not exist for him"
        withdrawn = samordnare.post(f"/cases/{case_id}/messages",
                                    json={"name": "samtycke_aterkallat", "data": {"av": "Vera Vårdnadshavare"}})
        assert withdrawn.status_code == 200, withdrawn.text
        assert [t["element_id"] for t in withdrawn.json()["open_tasks"]] == ["registrera_aterkallelse"]
        assert [t["element_id"] for t in samordnare.get(f"/cases/{case_id}/timers").json()] == []
        history = events(samordnare, case_id)
        assert ("message_received", None) in history and ("task_cancelled", "uppfoljning") in history
        do(samordnare, case_id, "registrera_aterkallelse", {"aterkallelse": {
            "aterkallat_av": "Vera Vårdnadshavare", "datum": "2026-03-01"}})
        assert samordnare.get(f"/cases/{case_id}").json()["status"] == "completed"
        again = samordnare.post(f"/cases/{case_id}/messages", json={"name": "samtycke_aterkallat", "data": {}})
        assert again.status_code == 409
        unknown = motet.post(f"/cases/{aktualisera(motet)}/messages", json={"name": "finns_inte", "data": {}})
        assert unknown.status_code == 404


def test_contact_deadline_is_seven_days_or_the_same_day_when_acute(product):
    with product.client("hugo", *HLT_MOTET) as motet:
        normal, acute = aktualisera(motet), aktualisera(motet, akut=True)
        assert open_task(motet, normal, "samtycke")["due_at"].startswith((START + timedelta(days=7)).date().isoformat())
        assert open_task(motet, acute, "samtycke")["due_at"].startswith(START.date().isoformat())
        product.clock.advance(timedelta(hours=8))
        product.fire_timers()
        assert "paminn_kontakt" in open_elements(motet, acute) and "paminn_kontakt" not in open_elements(motet, normal)
        [reminder] = [t for t in motet.get(f"/cases/{acute}").json()["open_tasks"] if t["element_id"] == "paminn_kontakt"]
        assert reminder["candidate_group"] == "chef"


def test_missed_sip_deadline_escalates_to_the_chef_without_stopping_the_sip_work(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("cia", *CHEF) as chef:
        case_id = aktualisera(motet)
        do(motet, case_id, "samtycke", samtycke())
        [deadline] = [t for t in motet.get(f"/cases/{case_id}/timers").json() if t["element_id"] == "sip_frist"]
        assert deadline["due_at"].startswith((START + timedelta(days=30)).date().isoformat())
        product.clock.advance(timedelta(days=29))
        product.fire_timers()
        assert "eskalera_sip" not in open_elements(motet, case_id)
        product.clock.advance(timedelta(days=1))
        product.fire_timers()
        assert open_elements(motet, case_id) == ["eskalera_sip", "sammankallande"]
        missed = [e for e in motet.get(f"/cases/{case_id}/history").json()["items"] if e["event"] == "deadline_missed"]
        assert [e["element_id"] for e in missed] == ["fram_till_sip"]
        assert [d["element_id"] for d in chef.get("/deadlines").json()["items"]] == []  # the escalation is a task
        assert any(t["element_id"] == "eskalera_sip" for t in chef.get("/tasks", params={"candidate_group": "chef"})
                   .json()["items"])
        do(chef, case_id, "eskalera_sip", eskalering())
        sign_in(product.client("sam", *SAMORDNARE))
        do(motet, case_id, "sammankallande", {"traffar_familjen": [person("sam")], "samordnare": person("sam")})
        assert open_elements(motet, case_id) == ["upprata_sip"]


def test_sdq_follow_up_older_than_six_months_reminds_the_chef(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        case_id = to_follow_up(motet, samordnare)
        product.clock.advance(timedelta(days=184))
        product.fire_timers()
        assert open_elements(samordnare, case_id) == ["paminn_sdq", "uppfoljning"]


def test_invalid_form_data_gets_422_per_field(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        case_id = to_follow_up(motet, samordnare)
        bad = do(samordnare, case_id, "uppfoljning", {
            "sdq": {"informant": "granne", "datum": "igår", "svar": [3] + [1] * 23},
            "ors": skattning(11, 5, 5, 5), "sip_avstamning": "", "fortsatt": "ja"}, status=422)
        locations = {e["location"] for e in bad["errors"]}
        assert {"/data/sdq/informant", "/data/sdq/datum", "/data/sdq/svar", "/data/sdq/svar/0",
                "/data/ors/skattningar/0", "/data/sip_avstamning", "/data/fortsatt"} <= locations
        assert bad["type"] == "urn:samverka:problem:invalid-input" and bad["status"] == 422
        assert open_elements(samordnare, case_id) == ["uppfoljning"]  # nothing applied
