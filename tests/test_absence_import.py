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
    with product.client("tove", "mentor", "eht", "rektor", units=(SKOLA,)) as staff:
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


def test_a_row_whose_ladder_step_fails_is_stored_as_a_blocked_case_the_owner_sees_while_the_others_go_in(product):
    from conftest import ROOT
    from factories import deploy_files

    ladder = (ROOT / "processes" / "skolfranvaro.bpmn").read_text()
    broken = ladder.replace("perioder = perioder + 1 if raknas else perioder</bpmn:script>",
                            "perioder = perioder + 1 if raknas else perioder\n"
                            "kontroll = saknas if franvaro_procent &gt; 50 else 0</bpmn:script>")
    assert broken != ladder
    with product.client("agda", "processagare") as owner:
        assert deploy_files(owner, "skolfranvaro.bpmn", "skolfranvaro_trappa.dmn", overrides={
            "skolfranvaro.bpmn": broken.encode(),
            "skolfranvaro_trappa.dmn": (ROOT / "processes" / "skolfranvaro_trappa.dmn").read_bytes()}).status_code == 201
    with product.client("nara", *INTEGRATOR) as system:
        result = system.post("/absence-reports", json=period([row("elev-a", 60), row("elev-b", 12)])).json()
        assert result["started"] == 2 and result["delivered"] == 2 and result["failed"] == []
    with product.client("agda", "processagare") as owner:
        [incident] = owner.get("/incidents", params={"process_key": "skolfranvaro"}).json()["items"]
        assert incident["element_id"] == "berakna" and "saknas" in incident["error"], "blocked, not lost"
    assert len(ladder_cases(product)) == 1  # elev-a's case waits at the failed step, with no task yet


def steps_of(client, case_id: str) -> tuple[int, int]:
    """(history rows, rung): what a repeated report must not change."""
    history = client.get(f"/cases/{case_id}/history", params={"limit": 500}).json()["items"]
    return len(history), client.get(f"/cases/{case_id}").json()["data"]["steg"]


def test_a_report_sent_again_changes_nothing_and_a_correction_must_say_so(product):
    with product.client("mats", *MENTOR) as mentor, product.client("nara", *INTEGRATOR) as system:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-1")["id"]
        first = system.post("/absence-reports", json=period([row("elev-1", 16)]))
        assert first.json()["delivered"] == 1
        before = steps_of(mentor, case_id)
        again = system.post("/absence-reports", json=period([row("elev-1", 16)]))
        assert again.json() == {"processed": 1, "delivered": 0, "started": 0, "below_threshold": 0, "unchanged": 1,
                                "corrected": 0, "failed": []}
        assert steps_of(mentor, case_id) == before  # one real period is counted once
        other = system.post("/absence-reports", json=period([row("elev-1", 30)])).json()
        assert other["failed"][0]["row"] == 0 and "rattelse" in other["failed"][0]["error"]
        corrected = system.post("/absence-reports", json=period([{**row("elev-1", 30), "rattelse": True}])).json()
        assert corrected["corrected"] == 1 and corrected["delivered"] == 0
        history = mentor.get(f"/cases/{case_id}/history", params={"limit": 500}).json()["items"]
        [correction] = [e for e in history if e["event"] == "report_corrected"]
        assert correction["details"]["before"]["franvaro_procent"] == 16
        assert correction["details"]["after"]["franvaro_procent"] == 30
        assert steps_of(mentor, case_id)[1] == before[1]  # the ladder's decisions stand


def test_a_retried_import_with_the_same_idempotency_key_gets_the_first_answer(product):
    with product.client("nara", *INTEGRATOR) as system:
        body, key = period([row("elev-1", 16), row("elev-2", 2)]), {"Idempotency-Key": "v42-2026-03"}
        first = system.post("/absence-reports", json=body, headers=key)
        again = system.post("/absence-reports", json=body, headers=key)
        assert first.status_code == again.status_code == 200 and first.json() == again.json()
        assert first.json()["started"] == 1
        assert system.post("/absence-reports", json=period([row("elev-1", 3)]), headers=key).status_code == 422


def test_a_long_import_runs_as_a_job_with_progress(product):
    with product.client("nara", *INTEGRATOR) as system, product.client("ola", *INTEGRATOR) as other:
        rows = [row(f"elev-{n}", 12 if n % 10 == 0 else 1) for n in range(450)]
        accepted = system.post("/absence-reports", json=period(rows), headers={"Prefer": "respond-async"})
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["location"]
        assert location == f"/absence-reports/jobs/{accepted.json()['id']}"
        assert system.get(location).json()["status"] == "queued" and accepted.json()["total"] == 450
        assert other.get(location).status_code == 404  # only the client that sent it
        assert product.run_import_jobs() == 1
        job = system.get(location).json()
        assert job["status"] == "done" and job["processed"] == 450
        assert job["result"]["started"] == 45 and job["result"]["below_threshold"] == 405
        resent = system.post("/absence-reports", json=period(rows)).json()
        assert resent["unchanged"] == 45 and resent["started"] == 0  # the job's reports are known
