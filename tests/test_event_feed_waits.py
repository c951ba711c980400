"""Long-polls on the event feed: they wait without holding a thread, and one client's are capped."""
from __future__ import annotations

from factories import open_long_polls, start_case


def test_a_long_poll_answers_when_an_event_arrives_and_a_fifth_one_at_once_is_refused(server):
    from factories import deployed
    deployed(server, "enkel.bpmn")
    with server.client("nils", "integrator") as nils, server.client("hanna", "handlaggare") as hanna:
        cursor = nils.get("/events").json()["next_cursor"]
        answers, polls = open_long_polls(server, nils, cursor)
        # The four waits hold no worker thread: the server answers meanwhile, and refuses a fifth wait.
        fifth = nils.get("/events", params={"after": cursor, "wait": 20})
        assert fifth.status_code == 429 and fifth.headers["retry-after"] == "1"
        assert fifth.headers["content-type"] == "application/problem+json"
        assert nils.get("/events", params={"after": cursor}).json()["items"] == []  # a look without waiting is fine
        start_case(hanna, "enkel")
        for poll in polls:
            poll.join(30)
        assert [a.status_code for a in answers] == [200] * 4
        assert all(a.json()["items"][0]["type"] == "se.samverka.case.started" for a in answers)
        assert nils.get("/events", params={"after": cursor, "wait": 0.1}).status_code == 200  # the slots are free
