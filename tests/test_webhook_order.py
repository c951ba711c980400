"""Webhook order: a dead letter holds its case's later events back until redelivered or skipped; other cases go
on. Each attempt has a total deadline, and redirects are never followed."""
from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import _free_port
from factories import deployed, open_task, start_case
from receiver import Receiver, Tarpit

from engine.access.sealing import sealer_for
from engine.integration.webhooks import Deliverer

INTEGRATOR = ("integrator",)


@pytest.fixture
def receiver():
    running = Receiver(_free_port()).start()
    yield running
    running.stop()


def arrived(receiver) -> list[tuple[str, str]]:
    """(case, event type) of each delivery the receiver answered with success, in arrival order."""
    import json
    return [(json.loads(body)["subject"], json.loads(body)["type"].removeprefix("se.samverka."))
            for _, body in receiver.received]


def test_a_dead_letter_holds_back_its_cases_later_events_until_redelivered_or_skipped(server, receiver):
    deployed(server, "enkel.bpmn")
    with server.client("ivar", *INTEGRATOR) as ivar, server.client("hanna", "handlaggare") as hanna:
        hook = ivar.post("/webhooks", json={"url": receiver.url}).json()
        receiver.status = 500
        late = start_case(hanna, "enkel")["id"]  # case.started, task.created
        skipped = start_case(hanna, "enkel")["id"]
        server.deliver_webhooks()
        server.clock.advance(timedelta(hours=26))  # past the retry window: the first event of each is dead
        server.deliver_webhooks()
        server.clock.advance(timedelta(minutes=1))  # one failed attempt per receiver per batch: the next one's turn
        server.deliver_webhooks()
        receiver.status, receiver.received[:] = 204, []
        hanna.post(f"/tasks/{open_task(hanna, late, 'registrera')['id']}/claim")  # task.claimed, held back too
        on_time = start_case(hanna, "enkel")["id"]
        server.deliver_webhooks()
        assert arrived(receiver) == [(on_time, "case.started"), (on_time, "task.created")]  # other cases go on
        counts = ivar.get(f"/webhooks/{hook['id']}").json()
        assert (counts["dead"], counts["held_back"]) == (2, 3)
        dead = {d["case_id"]: d["id"] for d in ivar.get(f"/webhooks/{hook['id']}/failures").json()["items"]}
        assert ivar.post(f"/webhooks/{hook['id']}/failures/{dead[late]}/redeliver").status_code == 200
        assert ivar.post(f"/webhooks/{hook['id']}/failures/{dead[skipped]}/skip").json()["state"] == "skipped"
        server.deliver_webhooks()
        by_case = {}
        for case_id, kind in arrived(receiver)[2:]:
            by_case.setdefault(case_id, []).append(kind)
        assert by_case == {late: ["case.started", "task.created", "task.claimed"],  # in order, after the redelivery
                           skipped: ["task.created"]}  # the skipped event never arrives; the later one does
        counts = ivar.get(f"/webhooks/{hook['id']}").json()
        assert (counts["dead"], counts["held_back"]) == (0, 0)
        assert ivar.post(f"/webhooks/{hook['id']}/failures/{dead[skipped]}/skip").status_code == 404


def test_a_receiver_that_drips_its_answer_is_cut_off_by_the_total_deadline(server):
    tarpit = Tarpit(_free_port()).start()
    try:
        deployed(server, "enkel.bpmn")
        with server.client("ivar", *INTEGRATOR) as ivar, server.client("hanna", "handlaggare") as hanna:
            hook = ivar.post("/webhooks", json={"url": tarpit.url, "event_types": ["se.samverka.case.started"]}).json()
            start_case(hanna, "enkel")
            state = server.app.state
            # Each byte comes well within a per-read timeout; only a deadline for the whole attempt ends it.
            Deliverer(state.session_factory, server.clock, sealer_for(server.settings), True, timeout=1).run_once()
            [pending] = _deliveries(server, hook["id"])
        assert pending["state"] == "pending" and pending["attempts"] == 1
        assert "no complete answer within 1 s" in pending["last_error"]
    finally:
        tarpit.stop()


def test_a_redirect_is_a_failed_attempt_and_is_never_followed(server, receiver):
    elsewhere = Receiver(_free_port()).start()
    try:
        deployed(server, "enkel.bpmn")
        with server.client("ivar", *INTEGRATOR) as ivar, server.client("hanna", "handlaggare") as hanna:
            hook = ivar.post("/webhooks", json={"url": receiver.url, "event_types": ["se.samverka.case.started"]}).json()
            receiver.status, receiver.location = 302, elsewhere.url
            start_case(hanna, "enkel")
            server.deliver_webhooks()
            [pending] = _deliveries(server, hook["id"])
        assert pending["state"] == "pending" and pending["last_status"] == 302 and pending["last_error"] == "HTTP 302"
        assert len(receiver.received) == 1 and elsewhere.received == []
    finally:
        elsewhere.stop()


def _deliveries(server, subscription_id: str) -> list[dict]:
    from sqlalchemy import text
    with server.app.state.db.connect() as connection:
        rows = connection.execute(text("SELECT state, attempts, last_status, last_error FROM webhook_delivery "
                                       "WHERE subscription_id = :s ORDER BY id"), {"s": subscription_id})
        return [dict(row._mapping) for row in rows]


def test_a_tarpit_receiver_never_holds_a_deadline_back_and_the_worker_survives_a_deleted_subscription(server):
    import threading
    import time

    from engine.casework.worker import Worker

    tarpit = Tarpit(_free_port()).start()
    state, stop = server.app.state, threading.Event()
    deliverer = Deliverer(state.session_factory, server.clock, sealer_for(server.settings), True, timeout=60)
    worker = Worker(state.session_factory, server.clock, state.runner, state.specs, poll_seconds=0.05,
                    deliverer=deliverer)
    running = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    try:
        deployed(server, "vanta.bpmn")
        with server.client("ivar", *INTEGRATOR) as ivar, server.client("kim", "koordinator") as kim:
            hook = ivar.post("/webhooks", json={"url": tarpit.url}).json()
            case_id = start_case(kim, "vanta")["id"]
            running.start()
            _until(lambda: tarpit.open == 1)  # a delivery is stuck in the tarpit (for up to 60 s)
            server.clock.advance(timedelta(days=30))
            _until(lambda: kim.get(f"/cases/{case_id}").json()["status"] == "completed")
            assert tarpit.open == 1, "the deadline fired while the delivery was still stuck"
            assert ivar.delete(f"/webhooks/{hook['id']}").status_code == 204  # mid-delivery
        tarpit.stop()  # the stuck delivery ends; its subscription is gone
        with server.client("kim", "koordinator") as kim:
            later = start_case(kim, "vanta")["id"]
            server.clock.advance(timedelta(days=30))
            _until(lambda: kim.get(f"/cases/{later}").json()["status"] == "completed")  # the worker lives on
    finally:
        stop.set()
        tarpit.stop()
        running.join(30)


def _until(condition, seconds: float = 30) -> None:
    """Wait for something the worker does on its own (a bound on waiting, not a timing assertion)."""
    import time
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "it never happened"
        time.sleep(0.05)
