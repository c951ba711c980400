"""Bounded state: a looping case keeps a constant-size task tree and behaves as without pruning."""
from __future__ import annotations

from datetime import timedelta

import pytest
from factories import FIXTURES
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import serializer
from engine.bpmn.compaction import tree_depth
from engine.bpmn.parser import parse_bundle
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.core.clock import ManualClock


def _runner_and_spec(file: str, key: str):
    parsed = next(p for p in parse_bundle({file: (FIXTURES / file).read_bytes()}) if p.key == key)
    clock = ManualClock()
    return Runner(clock), SpecCache().get(1, key, parsed.files), clock


def _ready(workflow) -> dict[str, object]:
    tasks = [t for wf in [workflow, *workflow.subprocesses.values()]
             for t in wf.get_tasks(state=TaskState.READY, manual=True)]
    return {t.task_spec.bpmn_id: t for t in tasks}


def test_simple_loop_state_stays_constant_for_2000_turns():
    runner, cached, clock = _runner_and_spec("loop.bpmn", "uppfoljning")
    snapshot = runner.start(cached, {"barn": "B-1"})
    sizes = []
    for turn in range(2000):
        workflow = runner.load(cached, snapshot.state)
        assert list(_ready(workflow)) == ["folj_upp"], f"turn {turn}"
        snapshot = runner.complete(workflow, str(_ready(workflow)["folj_upp"].id), {"fortsatt": True, "varv": turn})
        sizes.append((len(workflow.tasks), tree_depth(workflow)))
    assert not snapshot.completed
    assert snapshot.data["varv"] == 1999 and snapshot.data["barn"] == "B-1"
    assert sizes[-1] == sizes[10], "the task tree must not grow with the case's age"
    assert sizes[-1][1] < 15


def test_boundary_timer_still_fires_in_a_long_loop():
    runner, cached, clock = _runner_and_spec("loop.bpmn", "uppfoljning")
    snapshot = runner.start(cached, {})
    for _ in range(400):
        workflow = runner.load(cached, snapshot.state)
        snapshot = runner.complete(workflow, str(_ready(workflow)["folj_upp"].id), {"fortsatt": True})
    assert [t.element_id for t in snapshot.timers] == ["sen"]
    # "P6M" from the moment the task opened, by the engine clock (which has not moved).
    assert clock.now() + timedelta(days=181) <= snapshot.timers[0].due_at <= clock.now() + timedelta(days=184)
    clock.advance(timedelta(days=190))
    snapshot = runner.refresh(runner.load(cached, snapshot.state))
    assert sorted(t.element_id for t in snapshot.open_tasks) == ["folj_upp", "paminn"]


def _drive_parallel_turn(runner, cached, snapshot, turn):
    workflow = runner.load(cached, snapshot.state)
    assert set(_ready(workflow)) == {"skolans_bedomning", "socialtjanstens_bedomning"}, f"turn {turn}"
    snapshot = runner.complete(workflow, str(_ready(workflow)["skolans_bedomning"].id), {"skola": turn})
    workflow = runner.load(cached, snapshot.state)
    # The join must wait: only the social services' task is open now.
    assert set(_ready(workflow)) == {"socialtjanstens_bedomning"}, f"turn {turn}"
    return runner.complete(workflow, str(_ready(workflow)["socialtjanstens_bedomning"].id), {"soc": 1000 + turn})


def test_parallel_join_inside_a_loop_waits_for_both_branches_every_turn():
    runner, cached, _ = _runner_and_spec("parallell.bpmn", "parallell")
    snapshot = runner.start(cached, {"varv": 0})
    for turn in range(300):
        snapshot = _drive_parallel_turn(runner, cached, snapshot, turn)
    assert snapshot.data["varv"] == 300
    assert tree_depth(runner.load(cached, snapshot.state)) < 20


def test_compaction_changes_nothing_observable():
    """Same steps with and without pruning: same open tasks, data and timers after every step."""
    pruned, cached, _ = _runner_and_spec("parallell.bpmn", "parallell")
    unpruned = Runner(ManualClock(), compact_state=False)
    a, b = pruned.start(cached, {"varv": 0}), unpruned.start(cached, {"varv": 0})
    for turn in range(60):
        a = _drive_parallel_turn(pruned, cached, a, turn)
        b = _drive_parallel_turn(unpruned, cached, b, turn)
        assert a.data == b.data, f"turn {turn}"
        assert [t.element_id for t in a.open_tasks] == [t.element_id for t in b.open_tasks]
    assert len(a.state) < len(b.state) / 10


def _interrupt_after(runner, cached, turns):
    snapshot = runner.start(cached, {})
    for _ in range(turns):
        workflow = runner.load(cached, snapshot.state)
        snapshot = runner.complete(workflow, str(_ready(workflow)["folj_upp"].id), {"fortsatt": True})
    workflow = runner.load(cached, snapshot.state)
    start = cached.subprocess_specs["myndighet_sub"].task_specs["myndighet_start"]
    workflow.catch(BpmnEvent(start.event_definition, {"payload": {"typ": "utredning"}, "result_var": "beslut_in"}))
    workflow.do_engine_steps()
    opened = sorted(_ready(workflow))
    snapshot = runner.complete(workflow, str(_ready(workflow)["dokumentera_beslut"].id), {"beslut": "utredning"})
    return workflow, opened, snapshot


def test_event_subprocess_can_start_after_many_turns():
    """The message start event hangs off the root, which compaction keeps for the case's life."""
    pruned, cached, _ = _runner_and_spec("avbrott.bpmn", "avbrott")
    workflow, opened, after = _interrupt_after(pruned, cached, 500)
    assert tree_depth(workflow) < 15
    assert "dokumentera_beslut" in opened
    _, opened_unpruned, after_unpruned = _interrupt_after(Runner(ManualClock(), compact_state=False), cached, 5)
    assert opened == opened_unpruned
    assert after.completed == after_unpruned.completed
    assert [t.element_id for t in after.open_tasks] == [t.element_id for t in after_unpruned.open_tasks]


@pytest.mark.parametrize("turns", [1, 50])
def test_compacted_state_round_trips(turns):
    runner, cached, _ = _runner_and_spec("loop.bpmn", "uppfoljning")
    snapshot = runner.start(cached, {})
    for _ in range(turns):
        workflow = runner.load(cached, snapshot.state)
        snapshot = runner.complete(workflow, str(_ready(workflow)["folj_upp"].id), {"fortsatt": True})
    assert serializer.dumps(runner.load(cached, snapshot.state)) == snapshot.state
