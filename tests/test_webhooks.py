"""Webhooks to a real receiver on loopback: signed per Standard Webhooks, retried, in case order, none lost."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from conftest import Server
from factories import complete, deployed, open_task, start_case
from receiver import Receiver
from sqlalchemy import text
from standardwebhooks import Webhook

from engine.access.identity import Principal
from engine.access.sealing import sealer_for
from engine.integration.webhooks import WebhookService

INTEGRATOR = ("integrator",)


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    try:
        running.stop()
    except Exception:  # noqa: BLE001 - already stopped by the test
        pass


def subscribe(server, url: str, **filters) -> dict:
    with server.client("ivar", *INTEGRATOR) as integrator:
        response = integrator.post("/webhooks", json={"url": url, **filters})
        assert response.status_code == 201, response.text
        return response.json()


def some_work(server, cases: int = 2) -> list[str]:
    """Start cases of `enkel` and complete each one's task: a few events per case."""
    deployed(server, "enkel.bpmn")
    ids = []
    with server.client("hanna", "handlaggare") as hanna:
        for n in range(cases):
            case = start_case(hanna, "enkel")
            assert complete(hanna, open_task(hanna, case["id"], "registrera")["id"],
                            barn_ref=f"barn-{n}", inkom="2026-01-12", prioritet="normal").status_code == 200
            ids.append(case["id"])
    return ids


def outbox(server, **params) -> list[dict]:
    with server.client("ivar", *INTEGRATOR) as integrator:
        return integrator.get("/events", params={"limit": 1000, **params}).json()["items"]


def delivered(receiver, secret: str) -> list[dict]:
    """Every request the receiver got, verified with the standardwebhooks package."""
    return [Webhook(secret).verify(body, headers) for headers, body in receiver.received]


def in_case_order(events: list[dict], expected: list[dict]) -> bool:
    by_case = lambda items: {c: [e["id"] for e in items if e["subject"] == c] for c in {e["subject"] for e in items}}  # noqa: E731
    return by_case(events) == by_case(expected)


def test_signed_deliveries_arrive_once_each_in_case_order(server, receiver):
    hook = subscribe(server, receiver.url)
    assert hook["secret"].startswith("whsec_")
    some_work(server)
    assert server.deliver_webhooks() > 0
    events = delivered(receiver, hook["secret"])
    expected = outbox(server)
    assert sorted(e["id"] for e in events) == sorted(e["id"] for e in expected)
    assert in_case_order(events, expected)
    headers, body = receiver.received[0]
    assert headers["webhook-id"] == json.loads(body)["id"]
    assert headers["content-type"].startswith("application/cloudevents+json")
    first = events[0]
    assert first["specversion"] == "1.0" and first["type"] == "se.samverka.case.started"
    assert first["source"] == "/samverka/processes/enkel" and first["subject"] == first["data"]["case_id"]
    # Only ids and minimal facts travel: no form data (the child's reference, dates) in any event.
    assert not any({"barn_ref", "inkom", "prioritet"} & set(e["data"]) for e in events)
    assert not any("barn-0" in json.dumps(e) for e in events)
    tampered = dict(receiver.received[0][0], **{"webhook-signature": "v1,AAAA"})
    with pytest.raises(Exception):
        Webhook(hook["secret"]).verify(receiver.received[0][1], tampered)


def test_filters_by_event_type_and_process(server, receiver):
    hook = subscribe(server, receiver.url, event_types=["se.samverka.task.completed"], process_keys=["enkel"])
    other = subscribe(server, receiver.url + "?annan", process_keys=["hlt"])
    some_work(server)
    server.deliver_webhooks()
    events = delivered(receiver, hook["secret"])
    assert len(events) == 2 and {e["type"] for e in events} == {"se.samverka.task.completed"}
    assert other["id"] != hook["id"]


def test_while_the_receiver_fails_or_is_gone_deliveries_retry_and_then_all_arrive(server, receiver):
    hook = subscribe(server, receiver.url)
    receiver.status = 500
    some_work(server)
    server.deliver_webhooks()
    failed_once = len(receiver.received)
    assert failed_once > 0
    server.clock.advance(timedelta(seconds=31))
    server.deliver_webhooks()
    assert len(receiver.received) == 2 * failed_once  # each case's head event tried again, nothing after it
    receiver.stop()  # now the port refuses connections
    server.clock.advance(timedelta(minutes=2))
    server.deliver_webhooks()
    receiver.received.clear()
    receiver.status = 204
    receiver.start()
    for _ in range(12):  # back-off grows: give it a few hours
        server.clock.advance(timedelta(minutes=20))
        server.deliver_webhooks()
    events = delivered(receiver, hook["secret"])
    expected = outbox(server)
    assert sorted(e["id"] for e in events) == sorted(e["id"] for e in expected)
    assert in_case_order(events, expected)


def test_after_the_retry_window_a_delivery_is_dead_lettered_and_can_be_redelivered(server, receiver):
    hook = subscribe(server, receiver.url, event_types=["se.samverka.case.started"])
    receiver.status = 500
    [case_id] = some_work(server, cases=1)
    for _ in range(16):
        server.clock.advance(timedelta(hours=2))
        server.deliver_webhooks()
    with server.client("ivar", *INTEGRATOR) as integrator:
        [failure] = integrator.get(f"/webhooks/{hook['id']}/failures").json()["items"]
        assert failure["state"] == "dead" and failure["case_id"] == case_id and failure["attempts"] >= 10
        assert failure["last_error"] == "HTTP 500"
        receiver.status, receiver.received = 204, []
        again = integrator.post(f"/webhooks/{hook['id']}/failures/{failure['id']}/redeliver")
        assert again.status_code == 200 and again.json()["state"] == "pending"
        server.deliver_webhooks()
        assert [e["subject"] for e in delivered(receiver, hook["secret"])] == [case_id]
        assert integrator.get(f"/webhooks/{hook['id']}/failures").json()["items"] == []


def test_only_integrators_manage_webhooks_and_urls_are_checked(server, receiver):
    with server.client("hanna", "handlaggare") as hanna:
        assert hanna.post("/webhooks", json={"url": receiver.url}).status_code == 403
        assert hanna.get("/webhooks").status_code == 403
    with server.client("ivar", *INTEGRATOR) as integrator:
        bad = integrator.post("/webhooks", json={"url": "ftp://example.org/x"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["location"].endswith("url")
        hook = integrator.post("/webhooks", json={"url": receiver.url}).json()
        listed = integrator.get("/webhooks").json()
        assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
        assert integrator.delete(f"/webhooks/{hook['id']}").status_code == 204
        assert integrator.get(f"/webhooks/{hook['id']}").status_code == 404



def test_receivers_inside_the_network_are_refused_and_secrets_are_sealed_at_rest(db_url, tmp_path, receiver):
    with Server(db_url, tmp_path / "var", webhook_allow_private=False) as strict:
        with strict.client("ivar", *INTEGRATOR) as ivar:
            for url in ("http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.1.2.3/hook",
                        "http://169.254.169.254/latest/meta-data", "http://[::1]/hook", "http://nowhere.invalid/x"):
                response = ivar.post("/webhooks", json={"url": url})
                assert response.status_code == 422 and response.json()["errors"][0]["location"] == "/url", url
            assert ivar.get("/webhooks").json() == []
        sealer = sealer_for(strict.settings)
        with strict.app.state.session_factory() as session:  # subscribed before the rule, say: refused when sent
            _, secret = WebhookService(session, strict.clock, sealer, allow_private=True).create(
                Principal("ivar", roles=frozenset(INTEGRATOR), scopes=frozenset({"webhooks", "events"})), receiver.url, [], [])
            session.commit()
            stored = session.scalar(text("SELECT secret FROM webhook_subscription"))
        assert secret not in stored and sealer.open(stored) == secret
        some_work(strict, cases=1)
        assert strict.deliver_webhooks() > 0 and receiver.received == []
        with strict.app.state.session_factory() as session:
            errors = set(session.scalars(text("SELECT last_error FROM webhook_delivery WHERE attempts > 0")))
        assert len(errors) == 1 and "destination refused" in errors.pop()
