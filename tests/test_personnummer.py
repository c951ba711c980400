"""Personnummer: validated, kept so a database dump does not reveal them, and never in URLs, logs or events."""
from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
import structlog
from conftest import ROOT, Server
from factories import database_bytes, do, sign_in, start_case
from forms_data import person, samtycke, sip
from receiver import Receiver
from test_hlt import HLT_MOTET, SAMORDNARE

from engine.access.personnummer import InvalidPersonnummer, find, parse, spellings
from engine.core import logs

TODAY = date(2026, 1, 12)
PNR = "201501012387"  # a valid number (check digit by Luhn) for a child born 2015-01-01
SAMORDNINGSNUMMER = "201501612384"


@pytest.mark.parametrize("written", ["201501012387", "150101-2387", "20150101-2387", "1501012387"])
def test_the_usual_ways_of_writing_it_give_the_twelve_digit_form(written):
    assert parse(written, TODAY) == PNR


@pytest.mark.parametrize("written, reason", [
    ("150101-2380", "check digit"), ("151301-2384", "not a date"), ("150230-2388", "not a date"),
    ("20270101-2384", "future"), ("15010-12387", "write it as"), ("150101 2387", "write it as"),
    ("", "write it as"), ("150192-2389", "samordningsnummer"),
])
def test_wrong_dates_and_check_digits_are_refused_with_the_reason(written, reason):
    with pytest.raises(InvalidPersonnummer, match=reason):
        parse(written, TODAY)


def test_samordningsnummer_are_day_plus_sixty_and_the_plus_sign_means_a_hundred_years():
    assert parse("150161-2384", TODAY) == SAMORDNINGSNUMMER
    assert parse("150101+2387", TODAY) == "191501012387"


def test_a_case_is_started_for_a_child_by_number_and_the_number_is_checked(product):
    with product.client("hugo", *HLT_MOTET) as motet:
        bad = motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": "150101-2380"})
        assert bad.status_code == 422 and bad.json()["errors"] == [
            {"location": "/barn_personnummer", "message": "the check digit does not match"}]
        first = motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": "150101-2387"}).json()
        assert first["barn_personnummer"] == PNR and first["data"]["barn"] != PNR  # the child's reference
        again = motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR})
        assert again.status_code == 409 and PNR[2:8] not in again.text  # one open HLT case per child
        in_text = motet.post("/cases", json={"process_key": "hlt", "data": {"notering": "Barnet 150101-2387"}})
        assert in_text.status_code == 422 and in_text.json()["errors"][0]["location"] == "/data/notering"
        task = first["open_tasks"][0]["id"]
        in_form = motet.post(f"/tasks/{task}/complete", json={"data": {
            "aktualiserad_av": person("lisa"), "akut": False, "tas_upp": True, "behov": f"Oro för {PNR}"}})
        assert in_form.status_code == 422 and in_form.json()["errors"][0]["location"] == "/data/behov"
        phone = motet.post(f"/tasks/{task}/complete", json={"data": {
            "aktualiserad_av": person("lisa"), "akut": False, "tas_upp": True, "behov": "Ring mamma 0701234567"}})
        assert phone.status_code == 200, "a bare ten-digit number is a phone number, not refused"


def test_a_message_finds_the_childs_cases_by_number_given_in_the_body(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("nils", "integrator") as nils:
        case = start_case(motet, "hlt")
        motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR})
        found = nils.post("/messages", json={"name": "samtycke_aterkallat",
                                             "correlation": {"personnummer": "150101-2387"}})
        assert found.status_code == 200 and case["id"] not in found.json()["delivered_to"]
        assert len(found.json()["delivered_to"]) == 1
        bad = nils.post("/messages", json={"name": "samtycke_aterkallat", "correlation": {"personnummer": "1"}})
        assert bad.status_code == 422 and bad.json()["errors"][0]["location"] == "/correlation/personnummer"


def test_a_full_scenario_leaves_the_number_in_no_database_file_log_event_or_webhook(db_url, tmp_path, capfd):
    root = logging.getLogger()
    old_level, handler = root.level, logging.StreamHandler()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # every library's logging, SQL statements and their parameters included
    client_side = [logging.getLogger(name) for name in ("httpx", "httpcore")]  # the test's own HTTP client,
    for logger in client_side:                                                 # which sends the careless URLs
        logger.setLevel(logging.WARNING)
    structlog_config = structlog.get_config()
    logs.configure(json=True, level=logging.DEBUG, cache=False)
    receiver = Receiver().start()
    try:
        with Server(db_url, tmp_path / "var", forms_dir=ROOT / "forms",
                    log_level="debug") as server:
            _scenario(server, receiver)
            with server.client("nils", "integrator") as nils:
                feed = nils.get("/events", params={"limit": 1000}).text
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for logger in client_side:
            logger.setLevel(logging.NOTSET)
        structlog.configure(**structlog_config)
        receiver.stop()
    output = capfd.readouterr()
    logged = output.out + output.err
    webhooks = b"".join(body for _, body in receiver.received).decode()
    database = database_bytes(db_url)
    assert logged.count('"GET /personnummer-blanked HTTP/1.1" 422') == 3, "the server's access log saw the careless requests, blanked"
    assert logged.count('"path": "/personnummer-blanked", "status": 422') == 3, "so did samverka's request log"
    assert "POST /cases" in logged and "se.samverka.case.started" in feed and webhooks, "the checks see something"
    for spelling in spellings(PNR):
        assert spelling not in logged and spelling not in feed and spelling not in webhooks, spelling
        assert spelling.encode() not in database, spelling


def _scenario(server, receiver) -> None:
    with server.client("agda", "processagare") as owner:
        files = [("files", (p.name, p.read_bytes(), "application/xml"))
                 for p in sorted((ROOT / "processes").iterdir()) if p.suffix in (".bpmn", ".dmn")]
        assert owner.post("/process-definitions", files=files).status_code == 201
    with server.client("ivar", "integrator") as ivar:
        assert ivar.post("/webhooks", json={"url": receiver.url}).status_code == 201
    with server.client("hugo", *HLT_MOTET) as motet, server.client("sam", *SAMORDNARE) as samordnare, \
            server.client("nils", "integrator") as nils:
        sign_in(samordnare)
        case = motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": "150101-2387"}).json()
        case_id = case["id"]
        do(motet, case_id, "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": "Oro",
                                             "tas_upp": True})
        do(motet, case_id, "samtycke", samtycke())
        do(motet, case_id, "sammankallande", {"traffar_familjen": [person("sam")], "samordnare": person("sam")})
        do(samordnare, case_id, "upprata_sip", sip())
        assert "barn 20150101-2387" in samordnare.get(f"/cases/{case_id}/documents/sip").text, "the SIP names the child"
        assert samordnare.get(f"/cases/{case_id}").json()["barn_personnummer"] == PNR
        for careless in (f"/cases?process_key={PNR}", "/cases/150101-2387", "/tasks?assignee=150101%2D2387"):
            response = samordnare.get(careless)  # refused, and blanked before the access log sees it
            assert response.status_code == 422 and response.json()["instance"] == "/personnummer-blanked"
        server.clock.advance(timedelta(days=40))
        server.fire_timers()
        withdrawn = nils.post("/messages", json={"name": "samtycke_aterkallat", "correlation": {"personnummer": PNR}},
                              headers={"Idempotency-Key": "aterkallelse-1"})
        assert withdrawn.status_code == 200, withdrawn.text
        assert server.deliver_webhooks() > 0


def test_a_server_id_whose_digits_read_as_a_number_is_still_reachable(product):
    # "4a190522-7987-…" holds 190522-7987, a valid personnummer: about one random id in 40,000 does
    lookalike = "4a190522-7987-4abc-8def-0123456789ab"
    assert find(lookalike, date(2026, 12, 1))
    with product.client("hugo", *HLT_MOTET) as motet:
        assert motet.get(f"/cases/{lookalike}").status_code == 404
        assert motet.get("/tasks", params={"case_id": lookalike}).status_code == 200
        for careless in ("/cases/190522-7987", f"/cases/{lookalike}x190522-7987",
                         "/cases/4a190522-7987-4abc-8def-0123456789abc"):  # not an id the server makes
            assert motet.get(careless).status_code == 422, careless
