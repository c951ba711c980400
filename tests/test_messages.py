"""Messages in: correlated by case id or a business key, delivered once per Idempotency-Key."""
from __future__ import annotations

from factories import SKOLA, start_case

MENTOR, INTEGRATOR = ("mentor",), ("integrator",)


def report(procent: float) -> dict:
    return {"period_start": "2026-01-12", "period_slut": "2026-01-18", "franvaro_procent": procent,
            "ogiltig_franvaro": False}


def test_an_absence_report_finds_the_pupils_ladder_case_by_business_key(product):
    with product.client("mats", *MENTOR) as mentor, product.client("nara", *INTEGRATOR) as system:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-ref-11")["id"]
        start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-ref-12")
        response = system.post("/messages", json={"name": "franvarorapport", "correlation": {"skola": SKOLA, "elev": "elev-ref-11"},
                                                  "data": report(12)})
        assert response.status_code == 200, response.text
        assert response.json() == {"name": "franvarorapport", "delivered_to": [case_id]}
        assert mentor.get(f"/cases/{case_id}").json()["data"]["steg"] == 2
        by_id = system.post("/messages", json={"name": "franvarorapport", "correlation": {"case_id": case_id},
                                               "data": report(1)})
        assert by_id.json()["delivered_to"] == [case_id]


def test_no_waiting_case_is_a_clear_404(product):
    with product.client("nara", *INTEGRATOR) as system:
        missing = system.post("/messages", json={"name": "franvarorapport", "correlation": {"barn": "ingen"},
                                                 "data": report(12)})
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
        bad = system.post("/messages", json={"name": "franvarorapport", "correlation": {"elevnummer": "x"}})
        assert bad.status_code == 422 and bad.json()["errors"][0]["location"] == "/correlation/elevnummer"


def test_a_retried_post_with_the_same_idempotency_key_delivers_once(product):
    with product.client("mats", *MENTOR) as mentor, product.client("nara", *INTEGRATOR) as system:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-ref-13")["id"]
        body = {"name": "franvarorapport", "correlation": {"skola": SKOLA, "elev": "elev-ref-13"}, "data": report(12)}
        first = system.post("/messages", json=body, headers={"Idempotency-Key": "rapport-v3-elev-13"})
        again = system.post("/messages", json=body, headers={"Idempotency-Key": "rapport-v3-elev-13"})
        assert first.status_code == again.status_code == 200 and first.json() == again.json()
        received = [e for e in mentor.get(f"/cases/{case_id}/history").json()["items"]
                    if e["event"] == "message_received"]
        assert len(received) == 1
        other = system.post("/messages", json={**body, "data": report(40)},
                            headers={"Idempotency-Key": "rapport-v3-elev-13"})
        assert other.status_code == 422
