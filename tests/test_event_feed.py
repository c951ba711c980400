"""The event feed: a consumer that was away replays exactly what it missed, from any cursor."""
from __future__ import annotations

import json
import threading
import time

from test_webhooks import INTEGRATOR, some_work


def test_replays_from_any_cursor_and_filters_by_type(server):
    some_work(server, cases=3)
    with server.client("ivar", *INTEGRATOR) as integrator:
        everything = integrator.get("/events", params={"limit": 1000}).json()
        ids = [e["id"] for e in everything["items"]]
        assert len(ids) == len(set(ids)) >= 12
        collected, cursor = [], "0"
        while True:  # a consumer reading three at a time, resuming from each cursor
            page = integrator.get("/events", params={"after": cursor, "limit": 3}).json()
            if not page["items"]:
                break
            collected += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
        assert collected == ids
        middle = integrator.get("/events", params={"after": 5, "limit": 1000}).json()["items"]
        assert [e["id"] for e in middle] == ids[5:]
        completed = integrator.get("/events", params={"types": "se.samverka.case.completed"}).json()["items"]
        assert len(completed) == 3 and {e["type"] for e in completed} == {"se.samverka.case.completed"}
        unknown = integrator.get("/events", params={"types": "se.samverka.case.started,drop table"})
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["location"] == "/query/types"
    with server.client("hanna", "handlaggare") as hanna:
        assert hanna.get("/events").status_code == 403  # caseworkers see cases, not the feed


def test_long_poll_returns_as_soon_as_an_event_is_written(server):
    some_work(server, cases=1)
    with server.client("ivar", *INTEGRATOR) as integrator:
        cursor = integrator.get("/events", params={"limit": 1000}).json()["next_cursor"]
        threading.Timer(0.5, lambda: some_work(server, cases=1)).start()
        started = time.monotonic()
        page = integrator.get("/events", params={"after": cursor, "wait": 25}).json()
        assert page["items"] and page["items"][0]["type"] == "se.samverka.case.started"
        # Well before the 25 s the poll may wait: it answered when the event came, not at its deadline.
        assert time.monotonic() - started < 15


def test_consent_given_and_withdrawn_are_events_without_personal_data(product):
    from cloudevents.v1.http import from_json
    from test_hlt import HLT_MOTET, SAMORDNARE, to_follow_up

    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        case_id = to_follow_up(motet, samordnare)
        samordnare.post(f"/cases/{case_id}/messages", json={"name": "samtycke_aterkallat", "data": {}})
    with product.client("ivar", *INTEGRATOR) as integrator:
        page = integrator.get("/events", params={"limit": 1000})
        events = [e for e in page.json()["items"] if e["subject"] == case_id]
        types = [e["type"] for e in events]
        assert "se.samverka.consent.given" in types and "se.samverka.consent.withdrawn" in types
        assert types.index("se.samverka.consent.given") < types.index("se.samverka.consent.withdrawn")
        given = next(e for e in events if e["type"] == "se.samverka.consent.given")
        assert given["data"]["scope"] == ["skola", "socialtjanst", "halso_sjukvard"]
        assert "Vera" not in page.text and "barn-ref-17" not in page.text  # no guardian names, no child reference
        parsed = from_json(json.dumps(events[0]))  # a valid CloudEvents 1.0 JSON event, per the SDK
        assert parsed["specversion"] == "1.0" and parsed["subject"] == case_id


def test_a_client_scoped_to_one_process_sees_only_its_events_and_subscribes_to_them_only(product):
    with product.client("hugo", "hlt_motet") as hugo, product.client("mats", "mentor") as mats:
        hlt_case = hugo.post("/cases", json={"process_key": "hlt"}).json()["id"]
        mats.post("/cases", json={"process_key": "skolfranvaro", "data": {"skola": "Skolan i Höör", "elev": "b2"}})
    with product.client("nils", "integrator", scopes=("events:hlt", "webhooks")) as nils:
        feed = nils.get("/events", params={"limit": 1000}).json()["items"]
        assert feed and {e["source"] for e in feed} == {"/samverka/processes/hlt"}
        assert {e["subject"] for e in feed} == {hlt_case}
        assert nils.post("/webhooks", json={"url": "https://x.example/h", "process_keys": ["skolfranvaro"]}
                         ).status_code == 403
        hook = nils.post("/webhooks", json={"url": "https://x.example/h"})
        assert hook.status_code == 201 and hook.json()["process_keys"] == ["hlt"]
    with product.client("nora", "integrator", scopes=("webhooks",)) as nora:
        assert nora.get("/events").status_code == 403
        assert nora.post("/webhooks", json={"url": "https://x.example/h"}).status_code == 403
