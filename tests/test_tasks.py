"""User tasks: filters, claiming, role checks, form validation and concurrent updates."""
from __future__ import annotations

import threading

import httpx
from factories import SKOLA, complete, deployed, open_task, sign_in, start_case


def test_list_filters(server):
    deployed(server, "loop.bpmn", "enkel.bpmn")
    with server.client("kim", "kontaktperson", "handläggare") as kim:
        loop = start_case(kim, "uppfoljning")
        start_case(kim, "enkel")
        by_group = kim.get("/tasks", params={"candidate_group": "Kontaktperson"}).json()["items"]
        assert [t["case_id"] for t in by_group] == [loop["id"]]
        assert len(kim.get("/tasks", params={"process_key": "enkel"}).json()["items"]) == 1
        assert kim.get("/tasks", params={"due_before": "2026-07-13T00:00:00Z"}).json()["items"][0]["case_id"] == loop["id"]
        assert kim.get("/tasks", params={"due_before": "2026-07-01T00:00:00Z"}).json()["items"] == []
        kim.post(f"/tasks/{by_group[0]['id']}/claim")
        assert len(kim.get("/tasks", params={"assignee": "kim"}).json()["items"]) == 1


def test_claim_unclaim_and_roles(server):
    deployed(server, "loop.bpmn")
    with server.client("kim", "kontaktperson", units=(SKOLA,)) as kim, \
            server.client("kalle", "kontaktperson", units=("Tyrings skola",)) as kalle, \
            server.client("rut", "rektor", units=(SKOLA,)) as rut:
        sign_in(kalle)
        task = start_case(kim, "uppfoljning")["open_tasks"][0]
        assert rut.post(f"/tasks/{task['id']}/claim").status_code == 404, "not in the case: it does not exist for her"
        assert kalle.post(f"/tasks/{task['id']}/claim").status_code == 404, "the case is another unit's"
        added = kim.post(f"/cases/{task['case_id']}/participants",
                         json={"user": "kalle", "agency": "skola", "role": "kontaktperson"})
        assert added.status_code == 201, added.text
        assert kim.post(f"/tasks/{task['id']}/claim").json()["assignee"] == "kim"
        assert kalle.post(f"/tasks/{task['id']}/claim").status_code == 409
        assert complete(kalle, task["id"], fortsatt=False).status_code == 409
        assert kalle.post(f"/tasks/{task['id']}/unclaim").status_code == 409
        assert kim.post(f"/tasks/{task['id']}/unclaim").json()["assignee"] is None
        assert complete(kalle, task["id"], fortsatt=False).json()["completed_by"] == "kalle"
        events = [h["event"] for h in kim.get(f"/cases/{task['case_id']}/history").json()["items"]]
        assert events.count("task_claimed") == 1 and events.count("task_unclaimed") == 1


def test_form_schema_is_served_and_enforced(server):
    deployed(server, "enkel.bpmn")
    with server.client("hanna", "handläggare") as hanna:
        task = start_case(hanna, "enkel")["open_tasks"][0]
        detail = hanna.get(f"/tasks/{task['id']}").json()
        assert detail["form"]["required"] == ["barn_ref", "inkom"]
        invalid = complete(hanna, task["id"], barn_ref="B", prioritet="brådskande")
        assert invalid.status_code == 422
        locations = {e["location"] for e in invalid.json()["errors"]}
        assert locations == {"/data", "/data/barn_ref", "/data/prioritet"}
        assert hanna.get(f"/tasks/{task['id']}").json()["state"] == "open", "nothing applied"


def _race(server, calls) -> list[int]:
    barrier = threading.Barrier(len(calls))
    results: list[int] = []

    def run(call):
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            barrier.wait()
            results.append(call(client).status_code)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results)


def test_two_clients_completing_the_same_task_one_wins(server):
    deployed(server, "loop.bpmn")
    auth = {"Authorization": f"Bearer {server.token('kim', 'kontaktperson')}"}
    with server.client("kim", "kontaktperson") as kim:
        for _ in range(5):
            case = start_case(kim, "uppfoljning")
            task_id = case["open_tasks"][0]["id"]
            call = lambda c: c.post(f"/tasks/{task_id}/complete", json={"data": {"fortsatt": False}}, headers=auth)  # noqa: E731
            assert _race(server, [call, call]) == [200, 409]
            history = kim.get(f"/cases/{case['id']}/history").json()["items"]
            assert [h["event"] for h in history].count("task_completed") == 1


def test_concurrent_changes_to_one_case_never_lose_an_update(server):
    """Two parallel tasks of one case completed at once: one wins, the other gets 409 and retries."""
    deployed(server, "parallell.bpmn")
    skola = {"Authorization": f"Bearer {server.token('eva', 'eht')}"}
    soc = {"Authorization": f"Bearer {server.token('sara', 'socialsekreterare', agency='socialtjanst')}"}
    with server.client("eva", "eht") as eva:
        # With consent covering both agencies, each sees the other's assessment (and the join's count).
        case = start_case(eva, "parallell", varv=0, skola=0, soc=0,
                          samtycke={"lamnat": True, "omfattning": ["skola", "socialtjanst"]})
        ids = {t["element_id"]: t["id"] for t in case["open_tasks"]}
        calls = [lambda c: c.post(f"/tasks/{ids['skolans_bedomning']}/complete", json={"data": {"skola": 5}}, headers=skola),
                 lambda c: c.post(f"/tasks/{ids['socialtjanstens_bedomning']}/complete", json={"data": {"soc": 7}}, headers=soc)]
        statuses = _race(server, calls)
        assert statuses in ([200, 409], [200, 200])
        if statuses == [200, 409]:
            for element, call in zip(("skolans_bedomning", "socialtjanstens_bedomning"), calls):
                task = eva.get(f"/tasks/{ids[element]}").json()
                if task["state"] == "open":
                    with httpx.Client(base_url=server.base_url) as retry:
                        assert call(retry).status_code == 200
        after = eva.get(f"/cases/{case['id']}").json()
        assert after["data"]["varv"] == 1, "both completions were applied: the join fired once"
        assert {t["element_id"] for t in after["open_tasks"]} == {"skolans_bedomning", "socialtjanstens_bedomning"}
