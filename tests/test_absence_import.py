"""Bulk absence import: each pupil's report reaches their ladder case, or starts one by the ladder's entry rule."""
from __future__ import annotations

from factories import SKOLA, start_case

MENTOR, INTEGRATOR = ("mentor",), ("integrator",)


def period(rows: list[dict]) -> dict:
    return {"skola": "Skolan i Höör", "period_start": "2026-01-12", "period_slut": "2026-01-18", "rows": rows}


def row(elev: str, procent: float, ogiltig: bool = False) -> dict:
    return {"elev": elev, "franvaro_procent": procent, "ogiltig_franvaro": ogiltig}


def ladder_cases(product) -> set[str]:
    """The ladder cases with work for the school's staff (the ones the import started have no participants yet)."""
    with product.client("tove", "mentor", "eht", "rektor") as staff:
        tasks = staff.get("/tasks", params={"process_key": "skolfranvaro", "limit": 100}).json()["items"]
    return {t["case_id"] for t in tasks}


def test_reports_reach_existing_cases_start_new_ones_and_leave_the_rest(product):
    with product.client("mats", *MENTOR) as mentor, product.client("nara", *INTEGRATOR) as system:
        existing = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-1")["id"]
        response = system.post("/absence-reports", json=period([
            row("elev-1", 12), row("elev-2", 3), row("elev-3", 16), row("elev-4", 1, ogiltig=True)]))
        assert response.status_code == 200, response.text
        assert response.json() == {"processed": 4, "delivered": 3, "started": 2, "below_threshold": 1,
                                   "unchanged": 0, "corrected": 0, "failed": []}
        assert mentor.get(f"/cases/{existing}").json()["data"]["steg"] == 2
        assert len(ladder_cases(product) - {existing}) == 2  # the two it started (mats holds the first's seat)
        later = system.post("/absence-reports", json={**period([row("elev-3", 17)]), "period_start": "2026-01-19",
                                                       "period_slut": "2026-01-25"})
        assert later.json()["started"] == 0 and later.json()["delivered"] == 1  # the case it started is found


def test_bad_input_is_refused_per_field_and_only_integrators_import(product):
    with product.client("nara", *INTEGRATOR) as system, product.client("mats", *MENTOR) as mentor:
        bad = system.post("/absence-reports", json=period([row("elev-1", 120), {"elev": "", "franvaro_procent": 5}]))
        assert bad.status_code == 422
        locations = {e["location"] for e in bad.json()["errors"]}
        assert {"/body/rows/0/franvaro_procent", "/body/rows/1/elev", "/body/rows/1/ogiltig_franvaro"} <= locations
        backwards = system.post("/absence-reports", json={**period([row("e", 1)]), "period_slut": "2026-01-01"})
        assert backwards.status_code == 422
        too_many = system.post("/absence-reports", json=period([row(f"e{n}", 0) for n in range(10_001)]))
        assert too_many.status_code == 422
        assert mentor.post("/absence-reports", json=period([row("elev-1", 12)])).status_code == 403


def test_a_failing_row_is_reported_and_nothing_of_it_stored_while_the_others_go_in(product):
    from conftest import ROOT
    from factories import deploy_files

    ladder = (ROOT / "processes" / "skolfranvaro.bpmn").read_text()
    broken = ladder.replace("perioder += 1</bpmn:script>",
                            "perioder += 1\nkontroll = saknas if franvaro_procent &gt; 50 else 0</bpmn:script>")
    assert broken != ladder
    with product.client("agda", "processagare") as owner:
        assert deploy_files(owner, "skolfranvaro.bpmn", "skolfranvaro_trappa.dmn", overrides={
            "skolfranvaro.bpmn": broken.encode(),
            "skolfranvaro_trappa.dmn": (ROOT / "processes" / "skolfranvaro_trappa.dmn").read_bytes()}).status_code == 201
    with product.client("nara", *INTEGRATOR) as system:
        result = system.post("/absence-reports", json=period([row("elev-a", 60), row("elev-b", 12)])).json()
        assert result["started"] == 1 and result["delivered"] == 1 and result["processed"] == 2
        [failure] = result["failed"]
        assert failure["row"] == 0 and failure["elev"] == "elev-a" and "berakna" in failure["error"]
        assert len(ladder_cases(product)) == 1  # elev-a's case was never stored, not even half
