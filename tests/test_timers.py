"""Timers and deadlines by the engine clock: they fire when due, not before, once, and show on cases and tasks."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from conftest import START, Server
from factories import complete, deploy_files, deployed, open_task, start_case
from sqlalchemy import update

from engine.core.models import Case

KOORDINATOR = ("koordinator",)


def history(client, case_id: str, event: str) -> list[dict]:
    return [e for e in client.get(f"/cases/{case_id}/history").json()["items"] if e["event"] == event]


def open_tasks(client, case_id: str, element_id: str) -> list[dict]:
    return [t for t in client.get(f"/cases/{case_id}").json()["open_tasks"] if t["element_id"] == element_id]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_sip_deadline_fires_on_day_30_and_not_before(server):
    deployed(server, "frister.bpmn")
    with server.client("kim", *KOORDINATOR) as kim:
        case = start_case(kim, "sip_frist")
        sip = open_task(kim, case["id"], "upprata_sip")
        assert at(sip["due_at"]) == START + timedelta(days=30)

        [timer] = kim.get(f"/cases/{case['id']}/timers").json()
        assert timer["element_id"] == "sip_frist_passerad" and at(timer["due_at"]) == START + timedelta(days=30)
        assert timer["effect"] == "runs_alongside_task" and timer["attached_to"] == sip["id"]
        assert timer["description"] == "Startar «Eskalera försenad SIP» medan «Upprätta SIP» fortsätter."

        server.clock.advance(timedelta(days=30) - timedelta(minutes=1))
        assert server.fire_timers() == []
        assert open_tasks(kim, case["id"], "eskalera") == []

        server.clock.advance(timedelta(minutes=1))
        assert len(server.fire_timers()) == 1
        assert server.fire_timers() == []
        assert len(history(kim, case["id"], "timer_fired")) == 1
        [missed] = history(kim, case["id"], "deadline_missed")
        assert missed["task_id"] == sip["id"] and missed["actor"]["user"] == "samverka-timer"
        # The SIP work goes on, still showing the date it was due; the escalation goes to the chef.
        assert at(open_task(kim, case["id"], "upprata_sip")["due_at"]) == START + timedelta(days=30)
        [escalation] = open_tasks(kim, case["id"], "eskalera")
        assert escalation["candidate_group"] == "chef"
        assert kim.get(f"/cases/{case['id']}/timers").json() == []


def test_completed_tasks_deadline_never_fires(server):
    deployed(server, "frister.bpmn")
    with server.client("kim", *KOORDINATOR) as kim:
        case = start_case(kim, "sip_frist")
        server.clock.advance(timedelta(days=10))
        assert complete(kim, open_task(kim, case["id"], "upprata_sip")["id"]).status_code == 200
        assert [t["element_id"] for t in kim.get(f"/cases/{case['id']}/timers").json()] == ["halvar"]
        server.clock.advance(timedelta(days=40))
        assert server.fire_timers() == []
        assert history(kim, case["id"], "timer_fired") == [] and open_tasks(kim, case["id"], "eskalera") == []


def test_cancelled_case_timers_never_fire(server):
    deployed(server, "frister.bpmn")
    with server.client("kim", *KOORDINATOR) as kim:
        case = start_case(kim, "sip_frist")
        assert kim.post(f"/cases/{case['id']}/cancel").status_code == 200
        assert kim.get(f"/cases/{case['id']}/timers").json() == []
        server.clock.advance(timedelta(days=400))
        assert server.fire_timers() == []
        assert history(kim, case["id"], "timer_fired") == []


def test_six_month_follow_up_fires_once_each_period_on_the_calendar(server):
    deployed(server, "frister.bpmn")
    with server.client("kim", *KOORDINATOR) as kim:
        case = start_case(kim, "sip_frist")
        complete(kim, open_task(kim, case["id"], "upprata_sip")["id"])
        [cycle] = kim.get(f"/cases/{case['id']}/timers").json()
        assert cycle["repeats"] and cycle["expression"] == "R/P6M"
        assert at(cycle["due_at"]) == datetime(2026, 7, 12, 8, 0, tzinfo=START.tzinfo)
        for period, due in enumerate([(2026, 7, 12), (2027, 1, 12), (2027, 7, 12)], start=1):
            server.clock.set(datetime(*due, 8, 0, tzinfo=START.tzinfo))
            assert len(server.fire_timers()) == 1
            assert len(open_tasks(kim, case["id"], "sdq")) == period
        # Down for a year: each missed period fires once, oldest first, and the cycle carries on.
        server.clock.set(datetime(2028, 7, 20, tzinfo=START.tzinfo))
        fired = server.fire_timers()
        assert [f.due_at.date().isoformat() for f in fired] == ["2028-01-12", "2028-07-12"]
        assert len(open_tasks(kim, case["id"], "sdq")) == 5
        assert len(history(kim, case["id"], "timer_fired")) == 5
        [cycle] = kim.get(f"/cases/{case['id']}/timers").json()
        assert cycle["due_at"].startswith("2029-01-12")


def test_deadlines_lists_what_is_due_for_my_roles(server):
    deployed(server, "frister.bpmn")
    with server.client("kim", *KOORDINATOR) as kim, server.client("cia", "chef") as chef:
        first = start_case(kim, "sip_frist")
        server.clock.advance(timedelta(days=5))
        second = start_case(kim, "sip_frist")
        assert kim.get("/deadlines").json()["items"] == []  # nothing due within a week yet
        soon = kim.get("/deadlines", params={"within_days": 40}).json()["items"]
        assert [d["case_id"] for d in soon] == [first["id"], second["id"]]
        assert not any(d["overdue"] for d in soon)
        latest_first = kim.get("/deadlines", params={"within_days": 40, "sort": "-due_at"}).json()["items"]
        assert [d["case_id"] for d in latest_first] == [second["id"], first["id"]]

        server.clock.advance(timedelta(days=27))  # day 32 for the first, day 27 for the second
        server.fire_timers()
        week = kim.get("/deadlines").json()["items"]
        assert [(d["case_id"], d["overdue"]) for d in week] == [(first["id"], True), (second["id"], False)]
        paged = kim.get("/deadlines", params={"limit": 1}).json()
        rest = kim.get("/deadlines", params={"limit": 1, "cursor": paged["next_cursor"]}).json()
        assert [d["case_id"] for d in paged["items"] + rest["items"]] == [first["id"], second["id"]]

        assert chef.get("/deadlines").json()["items"] == []  # the koordinator's deadlines are not the chef's
        refused = chef.get("/deadlines", params={"role": "koordinator"})
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"


def test_tasks_filter_and_sort_by_due_date(server):
    deployed(server, "frister.bpmn")
    with server.client("kim", *KOORDINATOR) as kim:
        first = start_case(kim, "sip_frist")
        server.clock.advance(timedelta(days=10))
        second = start_case(kim, "sip_frist")
        cut = (START + timedelta(days=35)).isoformat()
        before = kim.get("/tasks", params={"due_before": cut}).json()["items"]
        after = kim.get("/tasks", params={"due_after": cut}).json()["items"]
        assert [t["case_id"] for t in before] == [first["id"]] and [t["case_id"] for t in after] == [second["id"]]
        by_due = kim.get("/tasks", params={"sort": "-due_at"}).json()["items"]
        assert [t["case_id"] for t in by_due] == [second["id"], first["id"]]
        bad = kim.get("/tasks", params={"sort": "due_at; DROP TABLE timer"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["location"].endswith("sort")


FAILING = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="http://samverka.se/test">
  <bpmn:process id="vanta" name="Vanta och rakna" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="frist" name="Trettio dagar"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="t"><bpmn:timeDuration>"P30D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="rakna" name="Rakna" scriptFormat="python"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>summa = saknas + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="slut"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="frist" />
    <bpmn:sequenceFlow id="f2" sourceRef="frist" targetRef="rakna" />
    <bpmn:sequenceFlow id="f3" sourceRef="rakna" targetRef="slut" />
  </bpmn:process>
</bpmn:definitions>"""


def test_a_timer_whose_next_step_fails_fires_once_and_blocks_the_case_not_lost(server):
    with server.client("agda", "processagare") as owner:
        assert deploy_files(owner, "vanta.bpmn", overrides={"vanta.bpmn": FAILING}).status_code == 201
    with server.client("kim", *KOORDINATOR) as kim:
        case = start_case(kim, "vanta")
        server.clock.advance(timedelta(days=30))
        server.fire_timers()
        assert len(history(kim, case["id"], "timer_fired")) == 1
        [raised] = history(kim, case["id"], "incident_raised")
        assert raised["element_id"] == "rakna" and "saknas" in raised["details"]["error"]
        seen = kim.get(f"/cases/{case['id']}").json()
        assert seen["status"] == "open" and seen["blocked"] and seen["timers"] == []
        server.clock.advance(timedelta(hours=2))
        assert server.fire_timers() == [], "nothing left to fire: the case waits for a retry, not a worker loop"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_embedded_server_fires_timers_by_itself(db_url, tmp_path):
    with Server(db_url, tmp_path / "var", embedded_worker=True) as server:
        deployed(server, "vanta.bpmn")
        with server.client("kim", *KOORDINATOR) as kim:
            case = start_case(kim, "vanta")
            server.clock.advance(timedelta(days=30))
            deadline = time.monotonic() + 20
            while kim.get(f"/cases/{case['id']}").json()["status"] != "completed":
                assert time.monotonic() < deadline, "the embedded worker did not fire the timer"
                time.sleep(0.05)
            assert len(history(kim, case["id"], "timer_fired")) == 1


def test_after_downtime_overdue_timers_fire_once_each_oldest_first(server):
    deployed(server, "vanta.bpmn")
    with server.client("kim", *KOORDINATOR) as kim:
        started = []
        for _ in range(3):
            started.append(start_case(kim, "vanta")["id"])
            server.clock.advance(timedelta(days=1))
        server.clock.advance(timedelta(days=90))  # the worker was down for three months
        fired = server.fire_timers()
        assert [f.case_id for f in fired] == started
        assert [f.lag_seconds for f in fired] == [float(days * 86400) for days in (63, 62, 61)]
        assert server.fire_timers() == []
        assert all(len(history(kim, case_id, "timer_fired")) == 1 for case_id in started)
        missing = kim.get("/cases/00000000-0000-0000-0000-000000000000/timers")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


EVENT_SUBPROCESS_TIMER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="http://samverka.se/test">
  <bpmn:process id="vanta" name="Arbete med tidsgrans" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="arbete" name="Arbete"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="slut"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="arbete" />
    <bpmn:sequenceFlow id="f2" sourceRef="arbete" targetRef="slut" />
    <bpmn:subProcess id="tidsgrans" name="Tidsgrans" triggeredByEvent="true">
      <bpmn:startEvent id="tid_ute" name="Ett ar har gatt"><bpmn:outgoing>g1</bpmn:outgoing>
        <bpmn:timerEventDefinition id="t"><bpmn:timeDuration>"P1Y"</bpmn:timeDuration></bpmn:timerEventDefinition>
      </bpmn:startEvent>
      <bpmn:userTask id="omprova" name="Ompröva"><bpmn:incoming>g1</bpmn:incoming><bpmn:outgoing>g2</bpmn:outgoing></bpmn:userTask>
      <bpmn:endEvent id="omprovat"><bpmn:incoming>g2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="g1" sourceRef="tid_ute" targetRef="omprova" />
      <bpmn:sequenceFlow id="g2" sourceRef="omprova" targetRef="omprovat" />
    </bpmn:subProcess>
  </bpmn:process>
</bpmn:definitions>"""


def test_an_interrupting_event_subprocess_timer_says_it_interrupts(server):
    with server.client("agda", "processagare") as owner:
        assert deploy_files(owner, "vanta.bpmn", overrides={"vanta.bpmn": EVENT_SUBPROCESS_TIMER.encode()}).status_code == 201
    with server.client("kim", *KOORDINATOR) as kim:
        case = start_case(kim, "vanta")
        timers = kim.get(f"/cases/{case['id']}/timers").json()
        assert [(t["kind"], t["effect"]) for t in timers] == [("event_subprocess", "interrupts_process")]
        assert timers[0]["description"] == "Avbryter ärendets pågående steg och startar «Ompröva»."


def test_a_case_whose_state_cannot_be_read_has_its_timer_put_off_and_the_rest_of_the_batch_fires(server):
    deployed(server, "vanta.bpmn")
    with server.client("kim", *KOORDINATOR) as kim:
        broken, sound = start_case(kim, "vanta")["id"], start_case(kim, "vanta")["id"]
        with server.app.state.session_factory() as session:  # state no serializer can read (a damaged row)
            session.execute(update(Case).where(Case.id == broken).values(state='{"spec": "?"}'))
            session.commit()
        server.clock.advance(timedelta(days=30))
        assert [f.case_id for f in server.fire_timers()] == [sound], "one case's failure holds no other back"
        assert kim.get(f"/cases/{sound}").json()["status"] == "completed"
        [failed] = history(kim, broken, "timer_failed")
        assert failed["details"]["attempts"] == 1 and at(failed["details"]["retry_at"]) > server.clock.now()
        [timer] = kim.get(f"/cases/{broken}/timers").json()
        assert timer["element_id"] == "frist", "put off with back-off, not lost"
        assert server.fire_timers() == [], "not again before its retry time"
        server.clock.advance(timedelta(days=1))
        assert server.fire_timers() == [] and len(history(kim, broken, "timer_failed")) == 2
