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


def test_a_decision_with_no_rule_for_the_data_is_an_incident_at_the_decision(server):
    deployed(server, "beslut.bpmn", "beslut.dmn")
    with server.client("hanna", "handläggare", agency="socialtjanst") as hanna, \
            server.client("agda", *OWNER, agency=None) as agda:
        case = start_case(hanna, "beslutsprocess")
        assert complete(hanna, open_task(hanna, case["id"], "registrera")["id"], antal=0).status_code == 200
        blocked = hanna.get(f"/cases/{case['id']}").json()["blocked_by"]
        assert blocked["element_id"] == "bedom" and "no rule" in blocked["error"]
        agda.post(f"/incidents/{blocked['id']}/data", json={"set": {"antal": 2}})
        assert agda.post(f"/incidents/{blocked['id']}/retry").json()["state"] == "resolved"
        assert hanna.get(f"/cases/{case['id']}").json()["data"]["niva"] == "låg"


REFUSING = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="http://samverka.se/test">
  <bpmn:message id="Msg_start" name="starta_arende" />
  <bpmn:process id="startar" name="Startar ett lankat arende" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="registrera" name="Registrera"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:intermediateThrowEvent id="starta" name="Starta lankat arende"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:messageEventDefinition id="m" messageRef="Msg_start" camunda:expression="{&quot;process&quot;: &quot;grind&quot;, &quot;data&quot;: {}}" /></bpmn:intermediateThrowEvent>
    <bpmn:userTask id="folj_upp" name="Folj upp"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="slut"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="registrera" />
    <bpmn:sequenceFlow id="f2" sourceRef="registrera" targetRef="starta" />
    <bpmn:sequenceFlow id="f3" sourceRef="starta" targetRef="folj_upp" />
    <bpmn:sequenceFlow id="f4" sourceRef="folj_upp" targetRef="slut" />
  </bpmn:process>
</bpmn:definitions>"""


def test_a_linked_case_the_engine_cannot_start_is_a_message_incident_retried_once_the_process_exists(server):
    with server.client("agda", *OWNER, agency=None) as agda:
        assert deploy_files(agda, "startar.bpmn", overrides={"startar.bpmn": REFUSING}).status_code == 201
        with server.client("hanna", "handläggare", agency="socialtjanst") as hanna:
            case = start_case(hanna, "startar")
            assert complete(hanna, open_task(hanna, case["id"], "registrera")["id"]).status_code == 200
            seen = hanna.get(f"/cases/{case['id']}").json()
            assert seen["blocked_by"]["kind"] == "message" and "grind" in seen["blocked_by"]["error"]
            assert open_task(hanna, case["id"], "folj_upp"), "the case itself went on; the linked start waits"
            incident = seen["blocked_by"]["id"]
            assert agda.post(f"/incidents/{incident}/retry").json()["state"] == "open", "grind is not deployed yet"
            assert deploy_files(agda, "grind.bpmn").status_code == 201
            assert agda.post(f"/incidents/{incident}/retry").json()["state"] == "resolved"
            after = hanna.get(f"/cases/{case['id']}").json()
            assert after["blocked"] is False and [link["process_key"] for link in after["links"]] == ["grind"]


def test_cancelling_a_blocked_case_resolves_its_incident(server):
    deployed(server, "grind.bpmn")
    with server.client("hanna", "handläggare", agency="socialtjanst") as hanna, \
            server.client("agda", *OWNER, agency=None) as agda:
        case = start_case(hanna, "grind")
        complete(hanna, open_task(hanna, case["id"], "registrera")["id"])
        assert hanna.post(f"/cases/{case['id']}/cancel").json()["blocked"] is False
        assert agda.get("/incidents").json()["items"] == []
        assert events(hanna, case["id"])[-2:] == [("incident_resolved", "vilken"), ("case_cancelled", None)]
