"""What the migration check refuses, on the runner's own state (no server): a join waiting on branches that
changed, and a case inside a subprocess the new version no longer has."""
from __future__ import annotations

from datetime import datetime, timezone

from conftest import FIXTURES

from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.core.clock import ManualClock

PARALLEL = (FIXTURES / "parallell.bpmn").read_text()
# Version 2: the school's assessment is reviewed before the join, so the join's incoming branches change.
REVIEWED = PARALLEL.replace('<bpmn:sequenceFlow id="fa2" sourceRef="skolans_bedomning" targetRef="join" />',
                            '<bpmn:sequenceFlow id="fa2" sourceRef="skolans_bedomning" targetRef="granska" />'
                            '<bpmn:sequenceFlow id="fa3" sourceRef="granska" targetRef="join" />') \
    .replace('<bpmn:parallelGateway id="join"><bpmn:incoming>fa2</bpmn:incoming>',
             '<bpmn:userTask id="granska" name="Granska"><bpmn:incoming>fa2</bpmn:incoming>'
             '<bpmn:outgoing>fa3</bpmn:outgoing></bpmn:userTask>'
             '<bpmn:parallelGateway id="join"><bpmn:incoming>fa3</bpmn:incoming>')


def specs(*texts: str):
    cache = SpecCache()
    return [cache.get(n, "parallell", {"parallell.bpmn": text}) for n, text in enumerate(texts, 1)]


def test_a_join_waiting_on_branches_that_changed_cannot_move_but_one_not_yet_reached_can():
    old, new = specs(PARALLEL, REVIEWED)
    runner = Runner(ManualClock(datetime(2026, 1, 12, tzinfo=timezone.utc)))
    fresh = runner.start(old, {"varv": 0})
    assert runner.plan_migration(old, new, fresh.state, {}).movable, "both branches still open: the join waits on none"
    school = next(t for t in fresh.open_tasks if t.element_id == "skolans_bedomning")
    halfway = runner.complete(runner.load(old, fresh.state), school.id, {"skola": 1})
    plan = runner.plan_migration(old, new, halfway.state, {})
    assert not plan.movable and "join" in plan.reasons[0] and "branches changed" in plan.reasons[0]
    assert runner.migrate(old, new, halfway.state, {}) == (plan, None), "refused: nothing moved"

    _, moved = runner.migrate(old, new, fresh.state, {})
    moved_school = next(t for t in moved.open_tasks if t.element_id == "skolans_bedomning")
    assert moved_school.id == school.id
    after = runner.complete(runner.load(new, moved.state), school.id, {"skola": 1})
    assert sorted(t.element_id for t in after.open_tasks) == ["granska", "socialtjanstens_bedomning"]


def test_a_case_inside_a_subprocess_the_new_version_lacks_cannot_move():
    text = (FIXTURES / "avbrott.bpmn").read_text()
    cache = SpecCache()
    old = cache.get(1, "avbrott", {"avbrott.bpmn": text})
    runner = Runner(ManualClock(datetime(2026, 1, 12, tzinfo=timezone.utc)))
    started = runner.start(old, {})
    delivered = runner.deliver(old, runner.load(old, started.state), "myndighetsutovning", {})
    assert [t.element_id for t in delivered.open_tasks] == ["dokumentera_beslut"]
    renamed = cache.get(2, "avbrott", {"avbrott.bpmn": text.replace("myndighet_sub", "beslut_sub")})
    plan = runner.plan_migration(old, renamed, delivered.state, {})
    assert not plan.movable and "subprocess" in " ".join(plan.reasons)


def test_a_task_already_open_cannot_take_on_a_deadline_the_new_version_adds_to_it():
    text = (FIXTURES / "enkel.bpmn").read_text()
    cache = SpecCache()
    old = cache.get(1, "enkel", {"enkel.bpmn": text})
    task = next(s for s in old.spec.task_specs.values() if getattr(s, "manual", False))
    deadline = (f'<bpmn:boundaryEvent id="frist" attachedToRef="{task.bpmn_id}" cancelActivity="false">'
                '<bpmn:timerEventDefinition id="frist_t"><bpmn:timeDuration>P7D</bpmn:timeDuration>'
                '</bpmn:timerEventDefinition></bpmn:boundaryEvent></bpmn:process>')
    new = cache.get(2, "enkel", {"enkel.bpmn": text.replace("</bpmn:process>", deadline)})
    runner = Runner(ManualClock(datetime(2026, 1, 12, tzinfo=timezone.utc)))
    started = runner.start(old, {})
    plan = runner.plan_migration(old, new, started.state, {})
    assert not plan.movable and "boundary event" in plan.reasons[0]
