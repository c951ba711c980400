"""HLT, driven only through the REST API as the roles would: every path from aktualisering to avslut."""
from __future__ import annotations

from datetime import timedelta

from conftest import START
from factories import do, events, open_elements, open_task, sign_in, start_case
from forms_data import eskalering, person, samtycke, sdq, sip, skattning

HLT_MOTET, SAMORDNARE, CHEF = ("hlt_motet",), ("samordnare",), ("chef",)


def aktualisera(motet, akut: bool = False, tas_upp: bool = True, **extra) -> str:
    case = start_case(motet, "hlt")
    data = {"aktualiserad_av": person("lisa", "skola", "larare"), "akut": akut, "behov": "Hög frånvaro, oro",
            "tas_upp": tas_upp, **extra}
    if not tas_upp:
        data["hanvisning"] = "Ungdomsmottagningen"
    do(motet, case["id"], "aktualisering", data)
    return case["id"]


def kontakt(datum: str = "2026-01-14") -> dict:
    return {"kontakt": {"datum": datum, "av": person("lisa", "skola", "larare"), "hur": "telefon"}}


def to_follow_up(motet, samordnare) -> str:
    """A case at its first follow-up: the HLT meeting appointed the samordnare's person (known to the directory)."""
    sign_in(samordnare)
    case_id = aktualisera(motet)
    do(motet, case_id, "kontakta_familjen", kontakt())
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
        do(samordnare, case_id, "uppfoljning", {**follow_up, "fortsatt": True, "nasta_uppfoljning": "2026-09-01"})
        do(samordnare, case_id, "insats", {"ors": skattning(), "srs": skattning(), "enligt_plan": True})
        do(samordnare, case_id, "uppfoljning", {**follow_up, "fortsatt": False})
        do(samordnare, case_id, "avslut", {"sdq": sdq(svar=[0] * 25), "avslut_kommentar": "Målen nådda"})
        case = samordnare.get(f"/cases/{case_id}").json()
        assert case["status"] == "completed" and case["data"]["sdq_resultat"]["niva"] == "normal"
        assert case["data"]["utfall"] == "avslutat"
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
        assert case["data"]["utfall"] == "hanvisat"
        assert ("element_completed", "hanvisad") in events(motet, case_id)


def test_consent_nej_closes_the_case_with_a_recorded_referral(product):
    with product.client("hugo", *HLT_MOTET) as motet:
        case_id = aktualisera(motet)
        do(motet, case_id, "samtycke", samtycke(lamnat=False))
        assert open_elements(motet, case_id) == ["kontakta_familjen", "registrera_hanvisning"]
        do(motet, case_id, "registrera_hanvisning", {"hanvisning": "Familjen hänvisas till BUP direkt"})
        case = motet.get(f"/cases/{case_id}").json()
        assert case["status"] == "completed" and case["data"]["samtycke"]["lamnat"] is False
        assert case["data"]["hanvisning"] == "Familjen hänvisas till BUP direkt"
        assert case["data"]["utfall"] == "utan_samtycke" and case["open_tasks"] == []  # the contact task ends too
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
        closed = samordnare.get(f"/cases/{case_id}").json()
        assert closed["status"] == "completed" and closed["data"]["utfall"] == "aterkallat_samtycke"
        again = samordnare.post(f"/cases/{case_id}/messages", json={"name": "samtycke_aterkallat", "data": {}})
        assert again.status_code == 409
        unknown = motet.post(f"/cases/{aktualisera(motet)}/messages", json={"name": "finns_inte", "data": {}})
        assert unknown.status_code == 404



MYNDIGHETSBESLUT = {"myndighetsbeslut": {"beslut": "inleda_utredning", "datum": "2026-03-01", "beslutsfattare": "Sara",
                                         "motivering": "Oro för barnets hemsituation"}}


def test_myndighetsutovning_at_any_step_interrupts_the_case_and_records_its_outcome(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare, \
            product.client("sara", "socialsekreterare", agency="socialtjanst") as sara:
        first = start_case(motet, "hlt")["id"]  # at the very first step, by a socialsekreterare outside the case
        assert sara.get(f"/cases/{first}").status_code == 404
        started = sara.post(f"/cases/{first}/messages", json={"name": "myndighetsutovning", "data": {}})
        assert started.status_code == 200, started.text
        assert [t["element_id"] for t in started.json()["open_tasks"]] == ["registrera_myndighetsbeslut"]
        case_id = to_follow_up(motet, samordnare)  # in the middle: the follow-up and its deadlines go
        assert sara.post(f"/cases/{case_id}/messages", json={"name": "myndighetsutovning", "data": {}}).status_code == 200
        assert open_elements(sara, case_id) == ["registrera_myndighetsbeslut"]
        assert sara.get(f"/cases/{case_id}/timers").json() == []
        with product.client("olle", "rektor") as outsider:  # no other role may send it unasked
            refused = outsider.post(f"/cases/{case_id}/messages", json={"name": "myndighetsutovning", "data": {}})
            assert refused.status_code == 404
        do(sara, case_id, "registrera_myndighetsbeslut", MYNDIGHETSBESLUT)
        case = sara.get(f"/cases/{case_id}").json()
        assert case["status"] == "completed" and case["data"]["utfall"] == "myndighetsutovning"
        assert case["data"]["myndighetsbeslut"]["beslut"] == "inleda_utredning"
        history = events(sara, case_id)
        assert ("task_cancelled", "uppfoljning") in history
        assert ("element_completed", "avslutat_myndighetsutovning") in history


def due_date(task: dict) -> str:
    """The day (Swedish time) a task is due: deadlines run to the end of the day."""
    assert task["due_at"], task
    return task["due_at"][:10]


def test_contact_deadline_runs_from_aktualisering_and_is_checked_against_the_real_contact(product):
    with product.client("hugo", *HLT_MOTET) as motet:
        normal, acute = aktualisera(motet), aktualisera(motet, akut=True)
        raised_earlier = aktualisera(motet, aktualiserad_datum="2026-01-08")  # raised before it was registered
        assert due_date(open_task(motet, normal, "kontakta_familjen")) == "2026-01-19"
        assert due_date(open_task(motet, acute, "kontakta_familjen")) == "2026-01-12"
        assert due_date(open_task(motet, raised_earlier, "kontakta_familjen")) == "2026-01-15"
        assert "due_at" not in open_task(motet, normal, "samtycke") or not open_task(motet, normal, "samtycke")["due_at"]
        product.clock.advance(timedelta(hours=16))  # past midnight in Sweden
        product.fire_timers()
        assert "paminn_kontakt" in open_elements(motet, acute) and "paminn_kontakt" not in open_elements(motet, normal)
        [reminder] = [t for t in motet.get(f"/cases/{acute}").json()["open_tasks"] if t["element_id"] == "paminn_kontakt"]
        assert reminder["candidate_group"] == "chef"
        do(motet, normal, "kontakta_familjen", kontakt("2026-01-16"))
        do(motet, raised_earlier, "kontakta_familjen", kontakt("2026-01-16"))  # within 7 days of the 12th, not of the 8th
        assert motet.get(f"/cases/{normal}").json()["data"]["kontakt_i_tid"] is True
        assert motet.get(f"/cases/{raised_earlier}").json()["data"]["kontakt_i_tid"] is False


def test_a_late_sip_is_overdue_on_its_task_from_aktualisering_and_stays_so_after_escalation(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("cia", *CHEF) as chef, \
            product.client("sam", *SAMORDNARE) as samordnare:
        case_id = aktualisera(motet, aktualiserad_datum="2026-01-02")
        [deadline] = [t for t in motet.get(f"/cases/{case_id}/timers").json() if t["element_id"] == "sip_frist"]
        assert deadline["due_at"].startswith("2026-02-01")  # 30 days from aktualisering (23:59 Swedish time)
        product.clock.advance(timedelta(days=3))
        do(motet, case_id, "samtycke", samtycke())
        sign_in(samordnare)  # the directory knows her before she is appointed
        do(motet, case_id, "sammankallande", {"traffar_familjen": [person("sam")], "samordnare": person("sam")})
        assert due_date(open_task(motet, case_id, "upprata_sip")) == "2026-02-01"
        product.clock.advance(timedelta(days=18))
        product.fire_timers()
        assert "eskalera_sip" in open_elements(motet, case_id)
        missed = [e["element_id"] for e in motet.get(f"/cases/{case_id}/history").json()["items"]
                  if e["event"] == "deadline_missed"]
        assert "fram_till_sip" in missed and "upprata_sip" in missed
        do(chef, case_id, "eskalera_sip", eskalering())
        [late] = [d for d in samordnare.get("/deadlines").json()["items"] if d["case_id"] == case_id]
        assert late["element_id"] == "upprata_sip" and late["overdue"] is True  # the lateness did not vanish
        do(samordnare, case_id, "upprata_sip", sip())


def test_sdq_is_due_six_months_after_the_last_sdq_whatever_the_step(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        case_id = to_follow_up(motet, samordnare)  # bedömning's SDQ is dated 2026-01-20
        # the SIP's own follow-up date (2026-04-30) comes first; the SDQ is due 2026-07-20
        assert due_date(open_task(samordnare, case_id, "uppfoljning")) == "2026-04-30"
        follow_up = {"sdq": {**sdq(), "datum": "2026-03-01"}, "ors": skattning(8, 8, 8, 8), "sip_avstamning": "Ok",
                     "fortsatt": True, "nasta_uppfoljning": "2026-12-01"}
        do(samordnare, case_id, "uppfoljning", follow_up)
        # in insats now: the next SDQ is due six months after the last one (1 March), not after a step opened
        assert due_date(open_task(samordnare, case_id, "insats")) == "2026-09-01"
        product.clock.advance(timedelta(days=233))  # to 2026-09-02, still in insats
        product.fire_timers()
        assert open_elements(samordnare, case_id) == ["insats", "paminn_sdq"]


def test_the_plans_next_follow_up_date_is_the_follow_ups_deadline(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        case_id = to_follow_up(motet, samordnare)
        missing = do(samordnare, case_id, "uppfoljning", {"sdq": sdq(), "ors": skattning(), "sip_avstamning": "Ok",
                                                          "fortsatt": True}, status=422)
        assert "nasta_uppfoljning" in str(missing["errors"])
        product.clock.advance(timedelta(days=110))  # past the SIP's uppfoljning_datum (2026-04-30)
        product.fire_timers()
        [late] = [d for d in samordnare.get("/deadlines").json()["items"] if d["case_id"] == case_id]
        assert late["element_id"] == "uppfoljning" and late["overdue"] is True
        assert ("deadline_missed", "uppfoljning") in events(samordnare, case_id)


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


def test_a_sip_task_that_opens_after_its_deadline_is_overdue_from_the_start(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        sign_in(samordnare)  # the directory knows her before she is appointed
        case_id = aktualisera(motet, aktualiserad_datum="2025-12-01")  # raised six weeks before it was registered
        do(motet, case_id, "samtycke", samtycke())
        do(motet, case_id, "sammankallande", {"traffar_familjen": [person("sam")], "samordnare": person("sam")})
        assert due_date(open_task(motet, case_id, "upprata_sip")) == "2025-12-31"
        assert ("deadline_missed", "upprata_sip") in events(motet, case_id)
        [late] = [d for d in samordnare.get("/deadlines").json()["items"] if d["case_id"] == case_id]
        assert late["element_id"] == "upprata_sip" and late["overdue"] is True
