"""A case that loops 2,000 times through the API stays open at the right task with all its history."""
from __future__ import annotations

from factories import complete, deployed, start_case


def test_follow_up_loop_2000_turns_through_the_api(server):
    deployed(server, "loop.bpmn")
    with server.client("kim", "kontaktperson") as kim:
        case = start_case(kim, "uppfoljning", barn_ref="B-2000")
        task_id = case["open_tasks"][0]["id"]
        for turn in range(2000):
            response = complete(kim, task_id, fortsatt=True, varv=turn)
            assert response.status_code == 200, f"turn {turn}: {response.text}"
            tasks = response.json()["open_tasks"]  # one request per step, as a caseworker's screen does it
            assert [t["element_id"] for t in tasks] == ["folj_upp"], f"turn {turn}"
            if turn % 100 == 99:  # and the task list says the same
                listed = kim.get("/tasks", params={"case_id": case["id"]}).json()["items"]
                assert [t["id"] for t in listed] == [t["id"] for t in tasks], f"turn {turn}"
            task_id = tasks[0]["id"]
        after = kim.get(f"/cases/{case['id']}").json()
        assert after["status"] == "open"
        assert after["data"]["barn_ref"] == "B-2000" and after["data"]["varv"] == 1999
        assert [t["element_id"] for t in after["timers"]] == ["sen"]
        completions, cursor = 0, None
        while True:
            page = kim.get(f"/cases/{case['id']}/history", params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
            completions += sum(1 for h in page["items"] if h["event"] == "task_completed")
            if not (cursor := page["next_cursor"]):
                break
        assert completions == 2000
        assert complete(kim, task_id, fortsatt=False).status_code == 200
        assert kim.get(f"/cases/{case['id']}").json()["status"] == "completed"
