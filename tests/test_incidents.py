"""Incidents: a step that fails at run time blocks the case at that element, visible to the process owner, who
corrects the data (audited) and retries; the case then goes on, and its history shows both."""
from __future__ import annotations

from datetime import timedelta

from factories import complete, deploy_files, deployed, events, open_task, start_case

OWNER = ("processagare",)


def feed_types(server, case_id: str) -> set[str]:
    """The event types the feed has for one case, as an integration client reads them."""
    with server.client("feed", "integrator") as feed:
        items = feed.get("/events", params={"limit": 1000}).json()["items"]
    return {e["type"] for e in items if e["subject"] == case_id}


def test_a_gateway_that_fails_on_missing_data_is_an_incident_the_owner_corrects_and_retries(server):
    deployed(server, "grind.bpmn")
    with server.client("hanna", "handläggare", agency="socialtjanst") as hanna, \
            server.client("agda", *OWNER, agency=None) as agda:
        case = start_case(hanna, "grind")
        done = complete(hanna, open_task(hanna, case["id"], "registrera")["id"], anteckning="ny")
        assert done.status_code == 200, "the caseworker's step is kept: the failure is the model's"
        seen = hanna.get(f"/cases/{case['id']}").json()
        assert seen["status"] == "open" and seen["blocked"] is True and seen["open_tasks"] == []
        blocked = seen["blocked_by"]
        assert blocked["element_id"] == "vilken" and "antal" in blocked["error"], "the caseworker sees why"
        assert hanna.get("/incidents").status_code == 403, "incidents are for process owners"

        [incident] = agda.get("/incidents", params={"process_key": "grind"}).json()["items"]
        assert incident["case_id"] == case["id"] and incident["element_id"] == "vilken"
        assert incident["id"] == blocked["id"] and incident["attempts"] == 1
        detail = agda.get(f"/incidents/{incident['id']}").json()
        assert detail["data"]["anteckning"] == "ny" and "antal" not in detail["data"], "the data it saw"

        again = agda.post(f"/incidents/{incident['id']}/retry").json()
        assert again["state"] == "open" and again["attempts"] == 2, "retrying without a fix fails again"
        fixed = agda.post(f"/incidents/{incident['id']}/data", json={"set": {"antal": 5}})
        assert fixed.status_code == 200 and fixed.json()["data"]["antal"] == 5
        resolved = agda.post(f"/incidents/{incident['id']}/retry").json()
        assert resolved["state"] == "resolved" and resolved["resolved_by"] == "agda"

        after = hanna.get(f"/cases/{case['id']}").json()
        assert after["blocked"] is False and after["blocked_by"] is None and after["data"]["antal"] == 5
        assert open_task(hanna, case["id"], "granska"), "antal > 3: the case went on to Granska"
        history = events(hanna, case["id"])
        assert ("incident_raised", "vilken") in history and ("data_corrected", "vilken") in history
        assert ("incident_resolved", "vilken") in history
        corrected = [e for e in hanna.get(f"/cases/{case['id']}/history").json()["items"]
                     if e["event"] == "data_corrected"][0]
        assert corrected["actor"]["user"] == "agda" and corrected["data_changes"] == {"set": {"antal": 5}}
        assert agda.get("/incidents", params={"process_key": "grind"}).json()["items"] == []
        assert len(agda.get("/incidents", params={"state": "resolved"}).json()["items"]) == 1
        assert agda.post(f"/incidents/{incident['id']}/retry").status_code == 409, "a resolved incident is done"
    assert feed_types(server, case["id"]) >= {"se.samverka.incident.raised", "se.samverka.incident.resolved"}


def test_a_timer_whose_next_step_fails_blocks_the_case_instead_of_retrying_forever(server):
    deployed(server, "trasig_efter_timer.bpmn")
    with server.client("kim", "kontaktperson") as kim, server.client("agda", *OWNER, agency=None) as agda:
        case = start_case(kim, "vanta_trasig")
        server.clock.advance(timedelta(days=30))
        server.fire_timers()
        seen = kim.get(f"/cases/{case['id']}").json()
        assert seen["blocked_by"]["element_id"] == "rakna" and seen["timers"] == []
        [incident] = agda.get("/incidents").json()["items"]
        assert agda.post(f"/incidents/{incident['id']}/data", json={"set": {"saknas": 1}}).status_code == 200
        assert agda.post(f"/incidents/{incident['id']}/retry").json()["state"] == "resolved"
        assert kim.get(f"/cases/{case['id']}").json()["status"] == "completed"
        assert [e for e, _ in events(kim, case["id"])].count("timer_fired") == 1


def test_corrections_are_checked_and_refused_for_a_closed_incident(server):
    deployed(server, "grind.bpmn")
    with server.client("hanna", "handläggare", agency="socialtjanst") as hanna, \
            server.client("agda", *OWNER, agency=None) as agda:
        case = start_case(hanna, "grind")
        complete(hanna, open_task(hanna, case["id"], "registrera")["id"])
        [incident] = agda.get("/incidents").json()["items"]
        empty = agda.post(f"/incidents/{incident['id']}/data", json={})
        assert empty.status_code == 422
        pnr = agda.post(f"/incidents/{incident['id']}/data", json={"set": {"x": "19121212-1212"}})
        assert pnr.status_code == 422, "no personnummer in case data, here either"
        assert agda.get("/incidents/nope").status_code == 404
        assert agda.get("/incidents", params={"state": "sen"}).status_code == 422
        assert hanna.post(f"/incidents/{incident['id']}/retry").status_code == 403
