"""Migration: a process owner moves running cases onto a revised model, dry run first; unmovable cases are named
with the reason and left as they were; rolling back is migrating back with the reverse mapping."""
from __future__ import annotations

from datetime import timedelta

from factories import FIXTURES, complete, deploy_files, events, open_elements, open_task, start_case

OWNER = ("processagare",)
V1 = (FIXTURES / "frister.bpmn").read_text()
# Revised: the SIP deadline is 21 days, Upprätta SIP is renamed (mapped), Eskalera is replaced unmapped.
V2 = V1.replace('"P30D"', '"P21D"').replace("upprata_sip", "upprata_plan").replace('"eskalera"', '"eskalera_chef"') \
    .replace(">eskalera<", ">eskalera_chef<")
MAPPING = [{"from": "upprata_sip", "to": "upprata_plan"}]


def deploy(owner, text: str) -> None:
    assert deploy_files(owner, "frister.bpmn", overrides={"frister.bpmn": text.encode()}).status_code == 201


def migrate(owner, body: dict, dry_run: bool = False):
    return owner.post("/process-definitions/sip_frist/migrations", json=body,
                      params={"dry_run": "true"} if dry_run else None)


def test_cases_move_to_the_revised_model_keep_their_tasks_and_get_the_new_deadline_and_roll_back(server):
    with server.client("kim", "koordinator") as kim, server.client("agda", *OWNER, agency=None) as agda:
        deploy(agda, V1)
        late = start_case(kim, "sip_frist")  # its deadline fires before the migration: Eskalera is open
        server.clock.advance(timedelta(days=6))
        due_soon = start_case(kim, "sip_frist")  # 25 days in at the migration: past the new 21-day deadline
        claimed = open_task(kim, due_soon["id"], "upprata_sip")
        assert kim.post(f"/tasks/{claimed['id']}/claim").status_code == 200
        server.clock.advance(timedelta(days=25))
        fresh = start_case(kim, "sip_frist")
        assert [f.case_id for f in server.fire_timers()] == [late["id"]]
        deploy(agda, V2)

        body = {"from_version": 1, "to_version": 2, "mapping": MAPPING}
        report = migrate(agda, body, dry_run=True)
        assert report.status_code == 200, report.text
        plans = {c["case_id"]: c for c in report.json()["cases"]}
        assert report.json()["movable"] == 2 and report.json()["unmovable"] == 1
        assert not plans[late["id"]]["movable"] and "eskalera" in plans[late["id"]]["reasons"][0]
        assert plans[due_soon["id"]]["movable"] and "fires at once" in plans[due_soon["id"]]["effects"][0]
        assert kim.get(f"/cases/{due_soon['id']}").json()["process_version"] == 1, "a dry run changes nothing"

        queued = migrate(agda, body)
        assert queued.status_code == 202 and queued.json()["status"] == "queued" and queued.json()["total"] == 3
        assert server.run_migrations() == 1
        job = agda.get(f"/process-definitions/sip_frist/migrations/{queued.json()['id']}").json()
        assert job["status"] == "done" and job["processed"] == 3 and job["moved"] == 2
        assert [r["case_id"] for r in job["refused"]] == [late["id"]]

        moved = kim.get(f"/cases/{due_soon['id']}").json()
        [task] = moved["open_tasks"]
        assert moved["process_version"] == 2 and task["id"] == claimed["id"] and task["element_id"] == "upprata_plan"
        assert task["assignee"] == "kim", "the claim is kept"
        assert [e for e, _ in events(kim, due_soon["id"])].count("migrated") == 1
        fresh_timer = kim.get(f"/cases/{fresh['id']}").json()["timers"][0]
        assert fresh_timer["due_at"].startswith((server.clock.now() + timedelta(days=21)).date().isoformat())
        assert [f.case_id for f in server.fire_timers()] == [due_soon["id"]], "the shortened deadline fires at once"
        assert open_elements(kim, due_soon["id"]) == ["eskalera_chef", "upprata_plan"]
        assert complete(kim, task["id"]).status_code == 200

        untouched = kim.get(f"/cases/{late['id']}").json()
        assert untouched["process_version"] == 1 and "migrated" not in [e for e, _ in events(kim, late["id"])]
        assert open_elements(kim, late["id"]) == ["eskalera", "upprata_sip"]
        assert complete(kim, open_task(kim, late["id"], "upprata_sip")["id"]).status_code == 200, "still works on v1"

        back = migrate(agda, {"from_version": 2, "to_version": 1,
                              "mapping": [{"from": "upprata_plan", "to": "upprata_sip"}]})
        server.run_migrations()
        done = agda.get(f"/process-definitions/sip_frist/migrations/{back.json()['id']}").json()
        assert done["moved"] == 1 and [r["case_id"] for r in done["refused"]] == [due_soon["id"]]  # at eskalera_chef
        rolled = kim.get(f"/cases/{fresh['id']}").json()
        assert rolled["process_version"] == 1 and rolled["open_tasks"][0]["element_id"] == "upprata_sip"
        assert rolled["timers"][0]["due_at"].startswith((server.clock.now() + timedelta(days=30)).date().isoformat())
        assert [e for e, _ in events(kim, fresh["id"])].count("migrated") == 2
    with server.client("feed", "integrator") as feed:
        migrated = [e for e in feed.get("/events", params={"types": "se.samverka.case.migrated", "limit": 100})
                    .json()["items"]]
    assert {e["subject"] for e in migrated} == {due_soon["id"], fresh["id"]}
    assert {(e["data"]["from_version"], e["data"]["to_version"]) for e in migrated} == {(1, 2), (2, 1)}


def test_a_plan_naming_what_the_versions_lack_is_refused_and_only_owners_migrate(server):
    with server.client("kim", "koordinator") as kim, server.client("agda", *OWNER, agency=None) as agda:
        deploy(agda, V1)
        deploy(agda, V2)
        bad = migrate(agda, {"from_version": 1, "to_version": 2, "mapping": [{"from": "upprata_sip", "to": "nej"}]})
        assert bad.status_code == 422 and bad.json()["errors"][0]["location"] == "/mapping/0/to"
        assert migrate(agda, {"to_version": 9}).status_code == 422
        assert migrate(agda, {"from_version": 2, "to_version": 2}).status_code == 422
        assert migrate(kim, {"to_version": 2}).status_code == 403
        assert agda.post("/process-definitions/finns_inte/migrations", json={"to_version": 2}).status_code == 404
        everything_older = migrate(agda, {"to_version": 2, "mapping": MAPPING}, dry_run=True)
        assert everything_older.status_code == 200 and everything_older.json()["cases"] == []
        assert agda.get("/process-definitions/sip_frist/migrations/nej").status_code == 404
