"""Timer definitions that could never fire sensibly are refused at deploy, naming the file, element and rule.

A zero period (`R/PT0S`) would fire without end, a negative duration (`-P1D`) or a word
(`garbage`) says no time at all, and a date a thousand years out is a typo. Values an
expression computes at run time are held to the same rules: the case's step fails alone.
"""
from __future__ import annotations

import pytest
from conftest import FIXTURES
from factories import deploy_files, open_task

from engine.bpmn.budget import TimerLimits
from engine.bpmn.timer_limits import TimerRuleBroken, check_timer

VANTA = (FIXTURES / "vanta.bpmn").read_text()


def with_timer(kind: str, text: str, key: str = "vanta") -> bytes:
    """vanta.bpmn (start, one timer event `frist`, end) with another timer definition."""
    return (VANTA.replace('<bpmn:timeDuration>"P30D"</bpmn:timeDuration>', f"<bpmn:{kind}>{text}</bpmn:{kind}>")
            .replace('id="vanta"', f'id="{key}"').encode())


BAD_TIMERS = [
    ("timeDuration", "-P1D", "durations longer than zero"),
    ("timeDuration", '"-P1D"', "durations longer than zero"),
    ("timeDuration", "PT0S", "durations longer than zero"),
    ("timeDuration", "garbage", "a timer must say when it fires"),
    ("timeDuration", "P1000Y", "no timer beyond 36525 days"),
    ("timeDuration", '"P1D" if akut else "PT0S"', "durations longer than zero"),
    ("timeCycle", "R/PT0S", "durations longer than zero"),
    ("timeCycle", "R/PT1S", "cycles of at least 60 s"),
    ("timeCycle", "R5000/P1D", "at most 1000 repetitions"),
    ("timeCycle", "R0/P1D", "cycles that repeat at least once"),
    ("timeCycle", '"R/PT0S"', "durations longer than zero"),
    ("timeDate", "3026-01-01T00:00:00Z", "no timer beyond 36525 days"),
]


@pytest.mark.parametrize("kind, text, rule", BAD_TIMERS, ids=[f"{k}:{t}" for k, t, _ in BAD_TIMERS])
def test_a_timer_that_could_not_fire_sensibly_is_refused_naming_the_element_and_rule(server, kind, text, rule):
    with server.client("agda", "processagare") as owner:
        refused = deploy_files(owner, "vanta.bpmn", overrides={"vanta.bpmn": with_timer(kind, text)})
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["file"] == "vanta.bpmn" and error["element"] == "frist_timer" and error["line"] == 11, error
        assert rule in error["message"] and text.strip('"')[:6] in error["message"], error["message"]
        assert owner.get("/process-definitions/vanta").status_code == 404, "nothing of it was deployed"


def test_the_timers_the_processes_use_still_deploy(server):
    with server.client("agda", "processagare") as owner:
        for kind, text in [("timeDuration", "P30D"), ("timeDuration", "PT1M"), ("timeCycle", "R/P6M"),
                           ("timeCycle", "R1000/PT1M"), ("timeDate", "2099-01-01T00:00:00Z"),
                           ("timeDuration", '"PT8H" if today() &gt; "2026-06-01" else "P7D"')]:
            deployed = deploy_files(owner, "vanta.bpmn", overrides={"vanta.bpmn": with_timer(kind, text)})
            assert deployed.status_code == 201, (text, deployed.text)


COMPUTED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_beraknad"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="http://samverka.se/test">
  <bpmn:process id="beraknad" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="ange" name="Ange frist" camunda:formKey="frist"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:intermediateCatchEvent id="vanta" name="Vänta"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="vanta_timer"><bpmn:{kind}>frist</bpmn:{kind}></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="slut"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ange" />
    <bpmn:sequenceFlow id="f2" sourceRef="ange" targetRef="vanta" />
    <bpmn:sequenceFlow id="f3" sourceRef="vanta" targetRef="slut" />
  </bpmn:process>
</bpmn:definitions>
"""
FORM = b'{"type": "object", "properties": {"frist": {"type": "string"}}}'


@pytest.mark.parametrize("kind, value, status, words", [
    ("timeDuration", "PT0S", 422, "durations longer than zero"), ("timeDuration", "-P1D", 422, "longer than zero"),
    ("timeDuration", "garbage", 422, "not an ISO 8601 timeDuration"),
    ("timeDuration", "P200Y", 422, "no timer beyond 36525 days"), ("timeDuration", "P14D", 200, None),
    ("timeCycle", "R/PT0S", 422, "durations longer than zero"), ("timeCycle", "R/PT5S", 422, "at least 60 s"),
    ("timeCycle", "R/P1D", 200, None), ("timeDate", "3026-01-01", 422, "no timer beyond 36525 days")])
def test_a_timer_computed_at_run_time_is_held_to_the_same_rules(server, kind, value, status, words):
    with server.client("agda", "processagare") as owner:
        files = [("files", ("beraknad.bpmn", COMPUTED.replace("{kind}", kind).encode(), "application/xml")),
                 ("files", ("frist.schema.json", FORM, "application/json"))]
        assert owner.post("/process-definitions", files=files).status_code == 201
    with server.client("kim", "skolpersonal") as kim:
        case = kim.post("/cases", json={"process_key": "beraknad", "data": {}}).json()
        task = open_task(kim, case["id"], "ange")
        answer = kim.post(f"/tasks/{task['id']}/complete", json={"data": {"frist": value}})
        assert answer.status_code == status, answer.text
        if words:
            [error] = answer.json()["errors"]
            assert error["element"] == "vanta" and words in error["message"], error
            assert open_task(kim, case["id"], "ange")["id"] == task["id"], "the step was not applied"
        else:
            [timer] = kim.get(f"/cases/{case['id']}/timers").json()
            assert timer["element_id"] == "vanta"


@pytest.mark.parametrize("kind, value, rule", [
    ("timeCycle", "R3/2026-01-01T00:00:00Z/2026-01-01T00:00:30Z", "cycles of at least 60 s"),
    ("timeCycle", "R/3026-01-01T00:00:00Z/P1D", "no timer beyond 36525 days"),
    ("timeDuration", "P99999999Y", "no timer beyond 36525 days"),
    ("timeDuration", 30, "an ISO 8601 text"),
])
def test_the_timer_rules_read_every_part_of_a_value(kind, value, rule):
    with pytest.raises(TimerRuleBroken) as raised:
        check_timer(kind, value, TimerLimits())
    assert raised.value.rule == rule


def test_a_value_that_is_no_timer_at_all_is_a_value_error():
    for kind, value in [("timeCycle", "R/2026-01-01T00:00:00Z"), ("timeCycle", "P1D"), ("timeDuration", "P1X")]:
        with pytest.raises(ValueError):
            check_timer(kind, value, TimerLimits())
    check_timer("timeCycle", "R2/2026-02-02T08:00:00+00:00/P1D", TimerLimits())
    check_timer("timeDate", "2026-03-02T09:00:00+01:00", TimerLimits())
