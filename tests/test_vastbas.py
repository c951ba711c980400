"""Västbas, driven only through the REST API: the ten steps, the role rules, myndighetsutövning at any step."""
from __future__ import annotations

from datetime import timedelta

import httpx
from conftest import START, TEST_SECRET
from factories import do, events, open_elements, sign_in, start_case
from forms_data import eskalering, person, samtycke

from engine.access.identity import Principal, mint_token
from engine.core.clock import ManualClock
from engine.core.settings import Settings

SAMORDNARE, KOORDINATOR, SPRAKROR = ("samordnare",), ("koordinator",), ("sprakror",)
KONTAKTPERSON, EHT, SOCIALSEKRETERARE = ("kontaktperson",), ("eht",), ("socialsekreterare",)
MOTE = {"datum": "2026-02-02", "tid": "15:00", "plats": "Skolans konferensrum"}
# The people of the scenarios, as the directory knows them (user, roles, agency).
CAST = [("siv", SAMORDNARE, "skola"), ("kim", KOORDINATOR, "skola"), ("klara", KOORDINATOR, "skola"),
        ("karin", KONTAKTPERSON, "skola"), ("maja", SPRAKROR, "fritid"), ("eva", EHT, "skola"),
        ("rut", ("rektor", "kontaktperson"), "skola"), ("hans", ("socialsekreterare", "koordinator"), "socialtjanst"),
        ("sara", SOCIALSEKRETERARE, "socialtjanst")]


def known(product) -> None:
    """Everyone of the cast has signed in once, so the directory knows them."""
    for user, roles, agency in CAST:
        with product.client(user, *roles, agency=agency) as client:
            sign_in(client)


def registered(samordnare, personnummer: str | None = None, ifo: bool = True) -> str:
    """A case through step 1 (registered, consent given), with IFO's part of the bedömning done unless not `ifo`."""
    started = samordnare.post("/cases", json={"process_key": "vastbas", "barn_personnummer": personnummer})
    assert started.status_code == 201, started.text
    case = started.json()
    do(samordnare, case["id"], "nytt_arende", {
        "barnets_namn": "Elsa", "inkommit_fran": "skola", "beskrivning": "Oro för frånvaro och konflikter hemma",
        "kan_natverk_gagna": "Ja, flera vuxna runt barnet vill hjälpa", "handlaggare": person("hans", "socialtjanst")})
    do(samordnare, case["id"], "samtycke", samtycke())
    if ifo:
        ifo_part(samordnare, case["id"])
    return case["id"]


IFO_DEL = {"bedomning": "IFO ser inget behov av myndighetsutövning nu", "instammer": True}


def ifo_client(samordnare) -> httpx.Client:
    """Sara of the cast, IFO's socialsekreterare at the case's area, on the same server as `samordnare`."""
    principal = Principal("sara", "socialtjanst", frozenset(SOCIALSEKRETERARE))
    token = mint_token(Settings(token_secret=TEST_SECRET), ManualClock(START), principal, timedelta(days=3650))
    return httpx.Client(base_url=samordnare.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def ifo_part(samordnare, case_id: str) -> None:
    """IFO does its part of the bedömning (step 2: Centrala Barn- och Elevhälsan together with IFO)."""
    [task] = [t for t in samordnare.get(f"/cases/{case_id}").json()["open_tasks"] if t["element_id"] == "bedomning"]
    with ifo_client(samordnare) as ifo:
        done = ifo.post(f"/tasks/{task['id']}/parts/ifo_bedomning", json={"data": IFO_DEL})
        assert done.status_code == 200, done.text


def assessed(samordnare, personnummer: str | None = None) -> str:
    case_id = registered(samordnare, personnummer)
    do(samordnare, case_id, "bedomning", {"vastbasarende": True, "koordinator1": person("kim"),
                                         "koordinator2": person("klara")})
    return case_id


def offered(product, samordnare, koordinator, personnummer: str | None = None) -> str:
    """A case through steps 1-4: assessed, offered, förmöte held and the child's voice heard."""
    known(product)
    case_id = assessed(samordnare, personnummer)
    do(koordinator, case_id, "erbjudande", {"familjen_tackar_ja": True, "barnets_rost": "Vill ha lugn i skolan"})
    do(koordinator, case_id, "formote", {
        "problemanalys": "Skolfrånvaro, oro", "syfte": "Få barnet tillbaka till skolan",
        "natverkskarta": [{"namn": "Moster Maja", "relation": "släkt"}],
        "sprakror": {"namn": "Moster Maja", "relation": "släkt", "anvandare": "maja"},
        "gastlista": [{"namn": "Lärare Lisa", "roll": "mentor", "verksamhet": "skola"}], "natverksmote_1": MOTE})
    with product.client("maja", *SPRAKROR, agency="fritid") as sprakror:
        do(sprakror, case_id, "barnets_rost", {"barnets_rost": "Vill ha en vuxen att prata med"})
    return case_id


def planned_until_plan(product, samordnare, koordinator) -> str:
    """A case through nätverksmöte 1, waiting for the handlingsplan."""
    case_id = offered(product, samordnare, koordinator)
    do(koordinator, case_id, "natverksmote_1", {"behovsanalys": "Trygghet och struktur",
                                                "hemuppgifter": [{"vem": "Moster Maja", "bidrag": "Läxhjälp"}],
                                                "natverksmote_2": {**MOTE, "datum": "2026-02-16"}})
    return case_id


def planned(product, samordnare, koordinator) -> str:
    """A case with its handlingsplan agreed (step 6)."""
    case_id = planned_until_plan(product, samordnare, koordinator)
    do(koordinator, case_id, "natverksmote_2", handlingsplan())
    return case_id


def handlingsplan(befattning: str = "kurator") -> dict:
    return {"handlingsplan": {"mal": ["Närvaro över 80 %"], "uppfoljning_datum": "2026-04-01", "insatser": [
                {"insats": "Samtal varje vecka", "verksamhet": "skola", "ansvarig": "Kurator Karin",
                 "start": "2026-02-17"}]},
            "kontaktperson": person("karin", "skola", befattning), "kartlaggning_klar": True}


def follow_up(kontaktperson, eht, case_id: str, resultat: str) -> None:
    do(kontaktperson, case_id, "insatser_paborjas", {"paborjade": "2026-02-17"})
    do(eht, case_id, "eht_genomgang", {"eht_datum": "2026-03-10", "eht_bedomning": "Fortsätt enligt plan"})
    do(kontaktperson, case_id, "uppfoljning", {"resultat": resultat, "uppfoljning": "Bättre närvaro"})


def test_ten_steps_with_an_upward_spiral_and_three_six_month_evaluations(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator, \
            product.client("karin", *KONTAKTPERSON) as kontaktperson, product.client("eva", *EHT) as eht:
        case_id = planned(product, samordnare, koordinator)
        follow_up(kontaktperson, eht, case_id, "nya_insatser")  # 8 -> 9 -> 7: the upward spiral
        do(kontaktperson, case_id, "nya_insatser", {"nasta_uppfoljning": "2026-05-01", "nya_insatser": [
            {"insats": "Mentorssamtal", "verksamhet": "skola", "ansvarig": "Mentor Mats", "start": "2026-03-15"}]})
        for evaluation in range(3):
            follow_up(kontaktperson, eht, case_id, "utvardering")
            # the six-month wait is the kontaktperson's open task with its date, visible in /deadlines
            [due] = [d for d in kontaktperson.get("/deadlines", params={"within_days": 200}).json()["items"]
                     if d["case_id"] == case_id]
            assert due["element_id"] == "utvardering" and due["candidate_group"] == "kontaktperson"
            product.clock.advance(timedelta(days=185))
            product.fire_timers()
            do(kontaktperson, case_id, "utvardering", {"avsluta": evaluation == 2, "utvardering": "Utvärderat",
                                                       **({} if evaluation == 2 else {"nasta_uppfoljning": "2027-01-01"})})
        case = kontaktperson.get(f"/cases/{case_id}").json()
        assert case["status"] == "completed" and case["data"]["utfall"] == "avslutat"
        history = events(kontaktperson, case_id)
        assert history.count(("timer_fired", "utvardering_frist")) == 3
        assert history.count(("task_completed", "insatser_paborjas")) == 4
        assert ("element_completed", "avslutat") in history


def test_not_a_vastbas_case_ends_with_the_alternative_measure_recorded(product):
    with product.client("siv", *SAMORDNARE) as samordnare:
        case_id = registered(samordnare)
        do(samordnare, case_id, "bedomning", {"vastbasarende": False}, status=422)
        do(samordnare, case_id, "bedomning", {"vastbasarende": False, "alternativ_atgard": {
            "atgard": "myndighetsutovning", "beskrivning": "IFO inleder utredning"}})
        case = samordnare.get(f"/cases/{case_id}").json()
        assert case["status"] == "completed" and case["data"]["alternativ_atgard"]["atgard"] == "myndighetsutovning"
        assert ("element_completed", "annan_atgard") in events(samordnare, case_id)


def test_koordinatorer_are_two_people_and_not_the_cases_handlaggare(product):
    known(product)
    with product.client("siv", *SAMORDNARE) as samordnare:
        case_id = registered(samordnare)
        same = do(samordnare, case_id, "bedomning", {"vastbasarende": True, "koordinator1": person("kim"),
                                                     "koordinator2": person("kim", namn="Kim K")}, status=422)
        assert [e["location"] for e in same["errors"]] == ["/data/koordinator2"]
        assert "koordinator1 and koordinator2 are different people" in same["errors"][0]["message"], \
            "one person of the directory, whatever the form calls them"
        own = do(samordnare, case_id, "bedomning", {"vastbasarende": True, "koordinator2": person("kim"),
                                                    "koordinator1": person("hans", "socialtjanst")}, status=422)
        assert [e["location"] for e in own["errors"]] == ["/data/koordinator1"]
        assert "may not be the case's handlaggare" in own["errors"][0]["message"]
        do(samordnare, case_id, "bedomning", {"vastbasarende": True, "koordinator1": person("kim"),
                                             "koordinator2": person("klara")})


def test_kontaktperson_may_not_be_a_rektor_or_a_socialsekreterare(product):
    """Per the directory's roles: the person object's self-declared befattning decides nothing (either way)."""
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator:
        case_id = planned_until_plan(product, samordnare, koordinator)
        for named, barred in ((person("rut", "skola", "kurator"), "rektor"),
                              (person("hans", "socialtjanst", "kurator"), "socialsekreterare")):
            refused = do(koordinator, case_id, "natverksmote_2", {**handlingsplan(), "kontaktperson": named},
                         status=422)
            assert [e["location"] for e in refused["errors"]] == ["/data/kontaktperson"]
            assert f"holds the role {barred} in the directory" in refused["errors"][0]["message"]
            assert "may not be rektor or socialsekreterare" in refused["errors"][0]["message"]
        # karin is a kontaktperson in the directory: what the form says her befattning is changes nothing
        do(koordinator, case_id, "natverksmote_2", handlingsplan("rektor"))


def test_myndighetsutovning_in_the_middle_interrupts_every_step(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator, \
            product.client("karin", *KONTAKTPERSON) as kontaktperson, \
            product.client("sara", *SOCIALSEKRETERARE, agency="socialtjanst") as sara:
        case_id = planned(product, samordnare, koordinator)
        do(kontaktperson, case_id, "insatser_paborjas", {"paborjade": "2026-02-17"})
        assert open_elements(kontaktperson, case_id) == ["eht_genomgang", "uppfoljning"]
        response = sara.post(f"/cases/{case_id}/messages", json={"name": "myndighetsutovning", "data": {}})
        assert response.status_code == 200, response.text
        assert [t["element_id"] for t in response.json()["open_tasks"]] == ["registrera_myndighetsbeslut"]
        assert sara.get(f"/cases/{case_id}/timers").json() == []  # the EHT deadline went with the work
        do(sara, case_id, "registrera_myndighetsbeslut", {"myndighetsbeslut": {
            "beslut": "inleda_utredning", "datum": "2026-03-01", "beslutsfattare": "Sara",
            "motivering": "Oro för barnets hemsituation"}})
        case = sara.get(f"/cases/{case_id}").json()
        assert case["status"] == "completed" and case["data"]["myndighetsbeslut"]["beslut"] == "inleda_utredning"
        assert case["data"]["utfall"] == "myndighetsutovning"
        history = events(sara, case_id)
        assert ("task_cancelled", "uppfoljning") in history and ("task_cancelled", "eht_genomgang") in history
        assert ("element_completed", "lamnar_vastbas") in history


def test_myndighetsutovning_can_come_at_the_very_first_step(product):
    with product.client("siv", *SAMORDNARE) as samordnare, \
            product.client("sara", *SOCIALSEKRETERARE, agency="socialtjanst") as sara:
        case = start_case(samordnare, "vastbas")
        assert sara.get(f"/cases/{case['id']}").status_code == 404, "not in the case: she cannot read it"
        started = sara.post(f"/cases/{case['id']}/messages", json={"name": "myndighetsutovning", "data": {}})
        assert started.status_code == 200, "a socialsekreterare of the case's area, participant or not"
        assert open_elements(sara, case["id"]) == ["registrera_myndighetsbeslut"]
        assert [(p["user"], p["role"], p["source"]) for p in sara.get(f"/cases/{case['id']}/participants").json()
                if p["user"] == "sara"] == [("sara", "socialsekreterare", "message")]


def test_eht_review_within_two_months_and_network_meeting_target(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator, \
            product.client("karin", *KONTAKTPERSON) as kontaktperson:
        case_id = offered(product, samordnare, koordinator)
        product.clock.advance(timedelta(days=22))  # 21 days after the koordinatorer were appointed, to the day's end
        product.fire_timers()
        assert open_elements(samordnare, case_id) == ["natverksmote_1", "paminn_natverksmote"]
        do(samordnare, case_id, "paminn_natverksmote", eskalering())
        do(koordinator, case_id, "natverksmote_1", {"behovsanalys": "b", "hemuppgifter": [], "natverksmote_2": MOTE})
        do(koordinator, case_id, "natverksmote_2", handlingsplan())
        do(kontaktperson, case_id, "insatser_paborjas", {"paborjade": "2026-02-17"})
        product.clock.advance(timedelta(days=62))
        product.fire_timers()
        assert open_elements(samordnare, case_id) == ["eht_genomgang", "paminn_eht", "uppfoljning"]


def test_consent_withdrawn_mid_case_stops_the_network_work(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator:
        case_id = planned_until_plan(product, samordnare, koordinator)
        response = samordnare.post(f"/cases/{case_id}/messages", json={"name": "samtycke_aterkallat", "data": {}})
        assert response.status_code == 200, response.text
        assert open_elements(samordnare, case_id) == ["registrera_aterkallelse"]
        assert ("task_cancelled", "natverksmote_2") in events(samordnare, case_id)
        do(samordnare, case_id, "registrera_aterkallelse", {"aterkallelse": {"aterkallat_av": "Vera",
                                                                             "datum": "2026-02-10"}})
        assert samordnare.get(f"/cases/{case_id}").json()["status"] == "completed"


def due_date(client, case_id: str, element_id: str) -> str:
    [task] = [t for t in client.get(f"/cases/{case_id}").json()["open_tasks"] if t["element_id"] == element_id]
    return task["due_at"][:10]


def test_meeting_targets_run_from_the_appointment_and_the_booked_dates_are_deadlines(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator:
        known(product)
        case_id = assessed(samordnare)  # koordinatorer appointed on 12 January
        product.clock.advance(timedelta(days=10))  # the family takes ten days to answer
        do(koordinator, case_id, "erbjudande", {"familjen_tackar_ja": True, "barnets_rost": "Vill ha lugn"})
        do(koordinator, case_id, "formote", {
            "problemanalys": "p", "syfte": "s", "natverkskarta": [{"namn": "Maja", "relation": "släkt"}],
            "sprakror": {"namn": "Maja", "relation": "släkt", "anvandare": "maja"},
            "gastlista": [{"namn": "Lisa", "roll": "mentor"}], "natverksmote_1": {**MOTE, "datum": "2026-01-28"}})
        with product.client("maja", *SPRAKROR, agency="fritid") as sprakror:
            do(sprakror, case_id, "barnets_rost", {"barnets_rost": "Vill ha en vuxen att prata med"})
        # NM1: the booked day (28 Jan) comes before the target (21 days from the appointment: 2 Feb)
        assert due_date(koordinator, case_id, "natverksmote_1") == "2026-01-28"
        timers = {t["element_id"]: t["due_at"][:10] for t in koordinator.get(f"/cases/{case_id}/timers").json()}
        assert timers["natverksmote_1_frist"] == "2026-02-02" and timers["natverksmote_1_bokat"] == "2026-01-28"
        do(koordinator, case_id, "natverksmote_1", {"behovsanalys": "b", "hemuppgifter": [],
                                                    "natverksmote_2": {**MOTE, "datum": "2026-03-10"}})
        # NM2 has a target too: 42 days from the appointment (23 Feb), before the booked 10 March
        assert due_date(koordinator, case_id, "natverksmote_2") == "2026-02-23"
        product.clock.advance(timedelta(days=33))
        product.fire_timers()
        assert "paminn_natverksmote_2" in open_elements(samordnare, case_id)


def test_new_insatser_of_every_turn_reach_the_handlingsplan(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator, \
            product.client("karin", *KONTAKTPERSON) as kontaktperson, product.client("eva", *EHT) as eht:
        case_id = planned(product, samordnare, koordinator)
        for turn, insats in enumerate(["Mentorssamtal", "Läxhjälp på fritids"]):
            follow_up(kontaktperson, eht, case_id, "nya_insatser")
            do(kontaktperson, case_id, "nya_insatser", {"nasta_uppfoljning": f"2026-0{5 + turn}-01", "nya_insatser": [
                {"insats": insats, "verksamhet": "halso_sjukvard" if turn else "skola", "ansvarig": "Mats",
                 "start": "2026-03-15"}]})
        page = kontaktperson.get(f"/cases/{case_id}/documents/handlingsplan")
        assert page.status_code == 200, page.text
        html = page.text
        assert "Samtal varje vecka" in html and "Mentorssamtal" in html and "Läxhjälp på fritids" in html
        assert "hälso- och sjukvård" in html and "halso_sjukvard" not in html
        follow_up(kontaktperson, eht, case_id, "utvardering")
        assert due_date(kontaktperson, case_id, "utvardering") == "2026-07-12"  # six months from the plan
