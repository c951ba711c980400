"""Cases: start, read, list, cancel, history, and version pinning across redeploys."""
from __future__ import annotations

from datetime import timedelta

from factories import FIXTURES, OWNER, complete, deploy_files, deployed, open_task, start_case


def test_case_lifecycle_with_history(server):
    deployed(server, "enkel.bpmn")
    with server.client("hanna", "handläggare", agency="socialtjanst") as hanna:
        case = start_case(hanna, "enkel", barn_ref="B-17")
        assert case["status"] == "open" and case["process_version"] == 1 and case["data"] == {"barn_ref": "B-17"}
        task = open_task(hanna, case["id"], "registrera")
        assert task["candidate_group"] == "handlaggare"
        assert complete(hanna, task["id"], barn_ref="B-17", inkom="2026-01-12").status_code == 200
        done = hanna.get(f"/cases/{case['id']}").json()
        assert done["status"] == "completed" and done["closed_at"] and done["open_tasks"] == []
        assert done["data"]["inkom"] == "2026-01-12"
        history = hanna.get(f"/cases/{case['id']}/history").json()["items"]
        events = [(h["event"], h["element_id"]) for h in history]
        assert events[0] == ("case_started", "enkel")
        assert ("task_completed", "registrera") in events and events[-1] == ("case_completed", None)
        completed = next(h for h in history if h["event"] == "task_completed")
        assert completed["actor"] == {"user": "hanna", "agency": "socialtjanst", "roles": ["handläggare"]}
        assert completed["data_changes"]["set"]["inkom"] == "2026-01-12"


def test_running_case_stays_on_its_version_after_redeploy(server):
    deployed(server, "enkel.bpmn")
    with server.client("hanna", "handläggare") as hanna, server.client("agda", *OWNER) as owner:
        old = start_case(hanna, "enkel")
        v2 = (FIXTURES / "enkel.bpmn").read_bytes().replace(b'name="Registrera \xc3\xa4rende"', b'name="Registrera (ny)"')
        assert deploy_files(owner, "enkel.bpmn", overrides={"enkel.bpmn": v2}).json()["processes"][0]["version"] == 2
        new = start_case(hanna, "enkel")
        assert new["process_version"] == 2 and new["open_tasks"][0]["name"] == "Registrera (ny)"
        old_task = open_task(hanna, old["id"], "registrera")
        assert old_task["name"] == "Registrera ärende"
        assert complete(hanna, old_task["id"], barn_ref="B-1", inkom="2026-02-01").status_code == 200
        assert hanna.get(f"/cases/{old['id']}").json()["status"] == "completed"


def test_list_cases_filters_and_pages(server):
    deployed(server, "enkel.bpmn", "loop.bpmn")
    with server.client("hanna", "handläggare", "kontaktperson") as hanna:
        ids = []
        for _ in range(5):
            ids.append(start_case(hanna, "enkel")["id"])
            server.clock.advance(timedelta(minutes=1))
        start_case(hanna, "uppfoljning")
        hanna.post(f"/cases/{ids[0]}/cancel")
        seen, cursor = [], None
        while True:
            page = hanna.get("/cases", params={"process_key": "enkel", "status": "open", "limit": 2,
                                               **({"cursor": cursor} if cursor else {})}).json()
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == ids[1:]
        assert hanna.get("/cases", params={"cursor": "garbage!"}).status_code == 422


def test_cancel_closes_tasks_and_cannot_repeat(server):
    deployed(server, "loop.bpmn")
    with server.client("kim", "kontaktperson") as kim:
        case = start_case(kim, "uppfoljning")
        task_id = case["open_tasks"][0]["id"]
        cancelled = kim.post(f"/cases/{case['id']}/cancel").json()
        assert cancelled["status"] == "cancelled" and cancelled["open_tasks"] == [] and cancelled["timers"] == []
        assert kim.get(f"/tasks/{task_id}").json()["state"] == "cancelled"
        again = kim.post(f"/cases/{case['id']}/cancel")
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        assert complete(kim, task_id, fortsatt=False).status_code == 409


def test_unknown_case_and_process_are_clear_problems(server):
    with server.client("kim", "kontaktperson") as kim:
        missing = kim.get("/cases/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and missing.json()["title"] == "Not found"
        unknown = kim.post("/cases", json={"process_key": "finns_inte", "data": {}})
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["location"] == "/process_key"
        bad_shape = kim.post("/cases", json={"process_key": "x", "data": []})
        assert bad_shape.status_code == 422 and bad_shape.json()["errors"][0]["location"] == "/body/data"


def test_a_step_the_model_breaks_at_blocks_the_case_there_and_a_retry_with_corrected_data_goes_on(server):
    """There is no `failed` status: a step that fails at run time keeps what came before it and blocks the case at
    the failing element (an incident, engine.casework.incidents) until it is retried."""
    deployed(server, "trasig.bpmn")
    with server.client("hanna", "handläggare", agency="socialtjanst") as hanna, \
            server.client("agda", "processagare", agency=None) as agda:
        case = start_case(hanna, "trasig")
        task = open_task(hanna, case["id"], "registrera")
        assert complete(hanna, task["id"], narvaro=3, antal=0).status_code == 200  # the script divides by zero
        after = hanna.get(f"/cases/{case['id']}").json()
        assert after["status"] == "open" and after["open_tasks"] == [] and after["data"] == {"narvaro": 3, "antal": 0}
        assert after["blocked_by"]["element_id"] == "rakna" and "zero" in after["blocked_by"]["error"]
        incident = after["blocked_by"]["id"]
        assert agda.post(f"/incidents/{incident}/data", json={"set": {"antal": 4}}).status_code == 200
        assert agda.post(f"/incidents/{incident}/retry").json()["state"] == "resolved"
        assert hanna.get(f"/cases/{case['id']}").json()["data"]["andel"] == 0.75
        assert open_task(hanna, case["id"], "granska")
        assert hanna.get("/cases", params={"status": "failed"}).status_code == 422, "no such status"
