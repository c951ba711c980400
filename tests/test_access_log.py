"""The access log: a row for every read and write of case data, for the registrar, and unalterable."""
from __future__ import annotations

import re
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa
from factories import do, start_case
from forms_data import samtycke
from test_hlt import HLT_MOTET, SAMORDNARE, to_follow_up
from test_personnummer import PNR
from test_vastbas import KOORDINATOR
from test_vastbas import SAMORDNARE as VASTBAS_SAMORDNARE
from test_vastbas import planned

REGISTRAR = ("registrator",)


def log_of(product, case_id: str) -> list[dict]:
    with product.client("rita", *REGISTRAR) as registrar:
        response = registrar.get(f"/cases/{case_id}/access-log", params={"limit": 500})
        assert response.status_code == 200, response.text
        return [row for row in response.json()["items"] if row["what"] != "access log"]


class ReadCounter:
    """Counts, from the responses a client gets, the access-log read rows they must have left per case."""

    SINGLE = re.compile(r"^/cases/([0-9a-f-]{36})(/history|/timers|/participants|/documents/\w+)?$")

    def __init__(self, *clients):
        self.expected: Counter = Counter()
        for client in clients:
            client.event_hooks["response"].append(self)

    def __call__(self, response) -> None:
        response.read()
        request, path = response.request, response.request.url.path
        if not response.is_success:
            return
        single = self.SINGLE.match(path)
        if request.method == "GET" and single:
            self.expected[single.group(1)] += 1
        elif request.method == "GET" and path in ("/cases", "/tasks", "/deadlines"):
            self.expected.update({item.get("case_id", item["id"]) for item in response.json()["items"]})
        elif request.method == "GET" and path.startswith("/tasks/"):
            self.expected[response.json()["case_id"]] += 1
        elif request.method == "POST" and (path == "/cases" or re.match(r"^/cases/[^/]+/(messages|cancel)$", path)):
            self.expected[response.json()["id"]] += 1  # answered with the case as the caller may see it


def test_every_read_in_the_hlt_scenario_has_its_row(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        counter = ReadCounter(motet, samordnare)
        case_id = to_follow_up(motet, samordnare)
        samordnare.get("/tasks", params={"case_id": case_id})
        samordnare.get(f"/cases/{case_id}/documents/sip")
        samordnare.post(f"/cases/{case_id}/messages", json={"name": "samtycke_aterkallat", "data": {}})
        reads = [r for r in log_of(product, case_id) if r["action"] == "read"]
        assert counter.expected[case_id] >= 10
        assert len(reads) == counter.expected[case_id], "one row for every read, no more, no less"


def test_every_read_in_the_vastbas_scenario_has_its_row(product):
    with product.client("siv", *VASTBAS_SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator:
        counter = ReadCounter(samordnare, koordinator)
        case_id = planned(product, samordnare, koordinator)
        koordinator.get(f"/cases/{case_id}/documents/handlingsplan")
        koordinator.get("/deadlines", params={"within_days": 365})
        # the scenario's språkrör (maja) reads through a client of her own, not counted here
        reads = [r for r in log_of(product, case_id) if r["action"] == "read" and r["user"] in ("siv", "kim")]
        assert counter.expected[case_id] >= 5 and len(reads) == counter.expected[case_id]


def test_each_kind_of_read_is_named_in_its_row(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        case_id = to_follow_up(motet, samordnare)
        before = log_of(product, case_id)
        reads = [("/cases/" + case_id, "case"), (f"/cases/{case_id}/history", "history"),
                 (f"/cases/{case_id}/timers", "timers"), (f"/cases/{case_id}/documents/sip", "document sip"),
                 (f"/cases/{case_id}/participants", "participants")]
        for path, _ in reads:
            assert samordnare.get(path).status_code == 200, path
        [task] = samordnare.get("/tasks", params={"case_id": case_id}).json()["items"]
        samordnare.get(f"/tasks/{task['id']}")
        samordnare.get("/cases")
        samordnare.get("/deadlines", params={"within_days": 365})
        new = log_of(product, case_id)[len(before):]
        assert [(r["user"], r["action"], r["what"]) for r in new] == [
            ("sam", "read", what) for _, what in reads] + [
            ("sam", "read", "task list"), ("sam", "read", "task"), ("sam", "read", "case list"),
            ("sam", "read", "deadlines")]
        assert all(r["agency"] == "skola" and r["roles"] == ["samordnare"] and r["client"] == "token" for r in new)
        everything = log_of(product, case_id)
        writes = [r for r in everything if r["action"] == "write"]
        assert {r["user"] for r in writes} == {"hugo", "sam"} and any("task_completed" in r["what"] for r in writes)
        assert samordnare.get(f"/cases/{case_id}/access-log").status_code == 403, "for the registrar only"


def test_refused_attempts_are_logged_and_the_registrar_reading_is_logged(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("olle", "fritidsledare") as outsider, \
            product.client("hilda", *HLT_MOTET) as hilda:
        case = start_case(motet, "hlt")
        task = case["open_tasks"][0]["id"]
        assert outsider.get(f"/cases/{case['id']}").status_code == 404
        assert outsider.get(f"/cases/{case['id']}/history").status_code == 404
        assert outsider.post(f"/cases/{case['id']}/cancel").status_code == 404
        assert hilda.post(f"/tasks/{task}/complete", json={"data": {}}).status_code == 404
        assert outsider.get("/cases/no-such-case").status_code == 404
        attempts = [(r["user"], r["action"], r["what"]) for r in log_of(product, case["id"]) if r["user"] != "hugo"]
        assert attempts == [("olle", "refused", "case"), ("olle", "refused", "history"), ("olle", "refused", "cancel"),
                            ("hilda", "refused", "task aktualisering")]
        assert motet.get(f"/cases/{case['id']}").json()["status"] == "open", "and nothing was done"
    with product.client("rita", *REGISTRAR) as registrar:
        registrar.get(f"/cases/{case['id']}/access-log")
        rows = registrar.get(f"/cases/{case['id']}/access-log").json()["items"]
        assert [r["what"] for r in rows if r["user"] == "rita"] == ["access log", "access log"]
        assert registrar.get(f"/cases/{case['id']}").status_code == 404, "the registrar reads the log, not the case"


def test_the_database_refuses_to_change_or_delete_log_rows(product):
    with product.client("hugo", *HLT_MOTET) as motet:
        case = start_case(motet, "hlt")
        do(motet, case["id"], "aktualisering", {"aktualiserad_av": {"namn": "L", "anvandare": "lisa",
                                                                      "verksamhet": "skola"},
                                                  "akut": False, "behov": "Oro", "tas_upp": True})
        do(motet, case["id"], "samtycke", samtycke())
    rows = log_of(product, case["id"])
    engine = product.app.state.db  # the application's own connection
    for statement in ("UPDATE access_log SET \"user\" = 'nobody'", "DELETE FROM access_log"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with engine.begin() as connection:
                connection.execute(sa.text(statement))
    assert log_of(product, case["id"])[:len(rows)] == rows


def test_the_registrar_extracts_who_accessed_one_childs_data_across_cases(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("rita", *REGISTRAR) as registrar, \
            product.client("mats", "mentor") as mentor:
        first = motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR}).json()["id"]
        second = mentor.post("/cases", json={"process_key": "skolfranvaro", "barn_personnummer": "150101-2387",
                                              "data": {"skola": "Skolan i Höör", "elev": "e-7"}}).json()["id"]
        other = start_case(motet, "hlt")["id"]
        mentor.get(f"/cases/{second}")
        extract = registrar.post("/access-log/extract", json={"personnummer": PNR, "limit": 500})
        assert extract.status_code == 200, extract.text
        rows = extract.json()["items"]
        assert {r["case_id"] for r in rows} == {first, second} and other not in extract.text
        assert ("mats", "read", "case") in {(r["user"], r["action"], r["what"]) for r in rows if r["case_id"] == second}
        assert registrar.post("/access-log/extract", json={"personnummer": "150101-2380"}).status_code == 422
        assert motet.post("/access-log/extract", json={"personnummer": PNR}).status_code == 403


def test_the_extract_answers_alike_whether_or_not_a_child_has_a_case(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("rita", *REGISTRAR) as registrar:
        motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR})
        with product.client("ulf", *REGISTRAR, agency="socialtjanst") as elsewhere:
            answers = [elsewhere.post("/access-log/extract", json={"personnummer": PNR}),  # not their agency's
                       registrar.post("/access-log/extract", json={"personnummer": "201601012386"})]  # no case
        for answer in answers:
            assert (answer.status_code, answer.json(), answer.headers["content-type"]) == (
                200, {"items": [], "next_cursor": None}, "application/json")
        assert registrar.post("/access-log/extract", json={"personnummer": PNR}).json()["items"], "and with a case"


def test_a_registrar_reads_the_logs_of_their_own_agencys_cases_only(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("rita", *REGISTRAR) as ours, \
            product.client("ulf", *REGISTRAR, agency="socialtjanst") as theirs, \
            product.client("nils", *REGISTRAR, agency=None) as nobodys:
        case_id = start_case(motet, "hlt")["id"]  # hugo acts for skola
        assert ours.get(f"/cases/{case_id}/access-log").status_code == 200
        for registrar in (theirs, nobodys):
            refused = registrar.get(f"/cases/{case_id}/access-log")
            unknown = registrar.get(f"/cases/{uuid.uuid4()}/access-log")
            assert refused.status_code == unknown.status_code == 404, "as if the case did not exist"
        rows = ours.get(f"/cases/{case_id}/access-log").json()["items"]
        assert ("ulf", "refused", "access log") in {(r["user"], r["action"], r["what"]) for r in rows}


def test_a_list_read_is_one_row_naming_the_cases_it_returned(product):
    with product.client("hugo", *HLT_MOTET) as motet:
        first, second = start_case(motet, "hlt")["id"], start_case(motet, "hlt")["id"]
        listed = motet.get("/cases").json()["items"]
        assert {c["id"] for c in listed} == {first, second}
    engine = product.app.state.db
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, case_id FROM access_log WHERE what = 'case list'")).all()
        named = connection.execute(sa.text("SELECT case_id FROM access_log_case WHERE entry_id = :id"),
                                   {"id": rows[0].id}).scalars().all() if rows else []
    assert len(rows) == 1 and rows[0].case_id is None and set(named) == {first, second}
    for case_id in (first, second):  # each case's log still finds it, naming that case only
        [row] = [r for r in log_of(product, case_id) if r["what"] == "case list"]
        assert row["case_id"] == case_id and row["case_ids"] == [case_id]
