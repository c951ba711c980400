"""Suspension: a process owner pauses a case; its tasks refuse completion (409 saying it is suspended), its timers
wait and fire, late, on resume, messages are held and delivered on resume; nothing is lost."""
from __future__ import annotations

from datetime import timedelta

from factories import complete, deployed, events, open_elements, open_task, start_case

OWNER = ("processagare",)


def test_a_suspended_case_refuses_completion_and_its_deadline_fires_late_on_resume(server):
    deployed(server, "frister.bpmn")
    with server.client("kim", "koordinator") as kim, server.client("agda", *OWNER, agency=None) as agda:
        case = start_case(kim, "sip_frist")
        task = open_task(kim, case["id"], "upprata_sip")
        assert kim.post(f"/cases/{case['id']}/suspend").status_code == 403, "for process owners"
        suspended = agda.post(f"/cases/{case['id']}/suspend", json={"reason": "granskas"})
        assert suspended.status_code == 200 and suspended.json()["suspended_at"] is not None
        assert agda.post(f"/cases/{case['id']}/suspend").json()["suspended_at"] == suspended.json()["suspended_at"]

        refused = complete(kim, task["id"])
        assert refused.status_code == 409 and "suspended" in refused.json()["detail"]
        server.clock.advance(timedelta(days=31))
        assert server.fire_timers() == [], "a suspended case's timers wait"
        assert open_elements(kim, case["id"]) == ["upprata_sip"]

        resumed = agda.post(f"/cases/{case['id']}/resume")
        assert resumed.status_code == 200 and resumed.json()["suspended_at"] is None
        [fired] = server.fire_timers()
        assert fired.element_id == "sip_frist_passerad" and fired.lag_seconds >= 86400, "late, on resume"
        assert open_elements(kim, case["id"]) == ["eskalera", "upprata_sip"]
        assert complete(kim, task["id"]).status_code == 200, "the task it refused is still there, and completes"
        history = [e for e, _ in events(kim, case["id"])]
        assert history.index("case_suspended") < history.index("case_resumed") < history.index("timer_fired")
        assert agda.post(f"/cases/{case['id']}/resume").status_code == 200, "resuming a running case changes nothing"
        assert [e for e, _ in events(kim, case["id"])].count("case_resumed") == 1


def test_messages_to_a_suspended_case_wait_and_are_delivered_on_resume(server):
    deployed(server, "avbrott.bpmn")
    with server.client("kim", "kontaktperson") as kim, server.client("agda", *OWNER, agency=None) as agda:
        case = start_case(kim, "avbrott")
        agda.post(f"/cases/{case['id']}/suspend")
        held = kim.post(f"/cases/{case['id']}/messages", json={"name": "myndighetsutovning", "data": {"beslut": 1}})
        assert held.status_code == 200 and open_elements(kim, case["id"]) == ["folj_upp"], "held, not delivered"
        unknown = kim.post(f"/cases/{case['id']}/messages", json={"name": "finns_inte"})
        assert unknown.status_code == 404
        agda.post(f"/cases/{case['id']}/resume")
        assert open_elements(kim, case["id"]) == ["dokumentera_beslut"], "delivered on resume (it interrupts)"
        history = [e for e, _ in events(kim, case["id"])]
        assert history.index("message_held") < history.index("case_resumed") < history.index("message_received")
    with server.client("feed", "integrator") as feed:
        types = {e["type"] for e in feed.get("/events", params={"limit": 1000}).json()["items"]
                 if e["subject"] == case["id"]}
    assert {"se.samverka.case.suspended", "se.samverka.case.resumed"} <= types
