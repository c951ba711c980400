"""Admission slots: a server process lets few requests at a time work on the database, and long-polls hold none."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest
from prometheus_client import REGISTRY

from api.admission import Admission
from conftest import Server
from factories import complete, deployed, open_long_polls, start_case


@pytest.fixture
def one_slot(pg_url, tmp_path):
    """The app on PostgreSQL with a single request slot (SAMVERKA_REQUEST_SLOTS=1)."""
    with Server(pg_url, tmp_path / "var", request_slots=1) as running:
        deployed(running, "enkel.bpmn")
        yield running


def test_open_long_polls_hold_no_slot_so_other_requests_answer_while_they_wait(one_slot):
    server = one_slot
    with server.client("nils", "integrator", scopes=("events",)) as nils, \
            server.client("hanna", "handlaggare") as hanna:
        cursor = nils.get("/events").json()["next_cursor"]
        # All four held at once: a poll that kept the slot would let the next in only after 20 s.
        answers, polls = open_long_polls(server, nils, cursor)
        waiting = server.app.state.feed_waits
        # Had a poll kept the one slot while it waited, these would queue behind it for 20 s (the client's
        # timeout is 30 s, so they would fail on waiting out the polls, not on a tight timing).
        assert hanna.get("/tasks").status_code == 200
        assert hanna.get("/cases").status_code == 200
        assert sum(waiting.values()) == 4 and all(poll.is_alive() for poll in polls) and answers == []
        # An event wakes them: each queues for the slot again, in turn, and answers.
        case = start_case(hanna, "enkel")
        for poll in polls:
            poll.join(30)
        assert [a.status_code for a in answers] == [200] * 4
        assert all(a.json()["items"][0]["subject"] == case["id"] for a in answers), answers[0].json()
        assert hanna.get("/tasks").status_code == 200  # the polls gave back every slot they took again


def _start_and_complete(server: Server, n: int) -> list[int]:
    """One caseworker's case: start it, find its task, complete it; the statuses."""
    with server.client(f"hanna{n}", "handlaggare") as hanna:
        started = hanna.post("/cases", json={"process_key": "enkel", "data": {}})
        if started.status_code != 201:
            return [started.status_code]
        case = started.json()
        tasks = hanna.get(f"/cases/{case['id']}").json()["open_tasks"]
        task = next(t for t in tasks if t["element_id"] == "registrera")
        done = complete(hanna, task["id"], barn_ref=f"B-{n:03}", inkom="2026-12-01")
        return [started.status_code, done.status_code]


def test_twenty_concurrent_caseworkers_on_one_slot_all_finish(one_slot):
    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda n: _start_and_complete(one_slot, n), range(20)))
    assert statuses == [[201, 200]] * 20
    assert REGISTRY.get_sample_value("samverka_admission_waiting") == 0
    with one_slot.client("hanna0", "handlaggare") as hanna:  # the slot came back after the burst
        assert len(hanna.get("/cases").json()["items"]) == 1


# Admission itself, on anyio: no server, no timing. `wait_all_tasks_blocked` returns once every other task
# waits on something, so "B is still queued" is a fact, not a guess after a sleep.

def _admitted_at_once(admission: Admission, tries: int) -> int:
    """How many of `tries` requests arriving together get in before any leaves."""
    async def main() -> int:
        inside, leave = [], anyio.Event()

        async def request():
            async with admission.slot({}):
                inside.append(1)
                await leave.wait()

        async with anyio.create_task_group() as tasks:
            for _ in range(tries):
                tasks.start_soon(request)
            await anyio.wait_all_tasks_blocked()
            count = len(inside)
            leave.set()
        return count
    return anyio.run(main)


def test_a_request_that_steps_aside_lets_another_in_and_queues_for_the_slot_again():
    admission, seen = Admission(1), []

    async def main():
        aside, other_done, back = anyio.Event(), anyio.Event(), anyio.Event()

        async def long_poll():
            async with admission.slot(poll_scope):
                seen.append("poll in")
                async with admission.aside(poll_scope):
                    aside.set()
                    await other_done.wait()
                seen.append("poll back")
                back.set()
                await anyio.wait_all_tasks_blocked()  # a third request arriving now must queue behind it
                seen.append(f"third inside while poll holds: {third_inside}")

        async def other():
            await aside.wait()
            async with admission.slot({}):
                seen.append("other in")
            other_done.set()

        async def third():
            await back.wait()
            async with admission.slot({}):
                third_inside.append(1)

        poll_scope, third_inside = {}, []
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(long_poll)
            tasks.start_soon(other)
            tasks.start_soon(third)
        assert third_inside == [1]  # it got in once the poll was done

    anyio.run(main)
    assert seen == ["poll in", "other in", "poll back", "third inside while poll holds: []"]
    assert _admitted_at_once(admission, 3) == 1


def test_cancelled_while_queueing_for_the_slot_again_releases_nothing_twice():
    admission = Admission(1)

    async def main():
        aside, holder_in, release = anyio.Event(), anyio.Event(), anyio.Event()
        scope: dict = {}

        async def long_poll(cancel: anyio.CancelScope):
            with cancel:
                async with admission.slot(scope):
                    async with admission.aside(scope):
                        aside.set()
                        await holder_in.wait()
                    raise AssertionError("got the slot back while another held it")

        async def holder():
            await aside.wait()
            async with admission.slot({}):
                holder_in.set()
                await release.wait()

        cancel = anyio.CancelScope()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(long_poll, cancel)
            tasks.start_soon(holder)
            await anyio.wait_all_tasks_blocked()  # the poll queues for the slot the holder has
            assert REGISTRY.get_sample_value("samverka_admission_waiting") == 1
            cancel.cancel()  # the client went away while it queued
            await anyio.wait_all_tasks_blocked()
            release.set()
        assert cancel.cancelled_caught and "samverka_admission_held" not in scope

    anyio.run(main)
    assert REGISTRY.get_sample_value("samverka_admission_waiting") == 0
    assert _admitted_at_once(admission, 3) == 1  # one slot still: the cancelled re-queue gave nothing back


def test_cancelled_while_queueing_for_a_first_slot_and_a_failing_request_both_leave_the_slot_count_alone():
    admission = Admission(2)

    async def main():
        release = anyio.Event()

        async def holder():
            async with admission.slot({}):
                await release.wait()

        async def failing():
            async with admission.slot({}):
                raise ValueError("the request failed")

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(holder)
            tasks.start_soon(holder)
            await anyio.wait_all_tasks_blocked()
            with anyio.move_on_after(0):  # cancelled at once: it never gets a slot
                async with admission.slot({}):
                    raise AssertionError("admitted with both slots taken")
            release.set()
        with pytest.raises(ValueError):
            await failing()

    anyio.run(main)
    assert _admitted_at_once(admission, 5) == 2
