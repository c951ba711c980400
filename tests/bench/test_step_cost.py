"""Benchmark: the cost of completing a task, through the HTTP API and with SpiffWorkflow alone.

Run with `make bench`. Prints median and p99 latency at loop turn 1 and turn 2,000, for
- the HTTP API on SQLite and PostgreSQL (real client, app on a port, full transaction), and
- the library floor: load stock-serialized state, complete the task, serialize (no compaction),
so the ratios are measured in one run on one machine.
"""
from __future__ import annotations

import platform
import statistics
import time

import pytest
from factories import FIXTURES, complete, deployed, start_case
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.parser import load_spec, parse_bundle
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.timer_events import CLOCK_TIMERS
from engine.core.clock import SystemClock

pytestmark = pytest.mark.bench
TURNS, WINDOW = 2000, 100
RESULTS: dict[str, dict] = {}


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_ms": statistics.median(ordered) * 1000, "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000}


def test_library_floor():
    """SpiffWorkflow alone, stock serializer, no compaction: the tree grows with every turn."""
    parsed = parse_bundle({"loop.bpmn": (FIXTURES / "loop.bpmn").read_bytes()})[0]
    spec, subprocess_specs = load_spec(parsed.key, parsed.files)
    config = {**CAMUNDA_CONFIG, **{cls: TimerConditionalEventDefinitionConverter for cls in CLOCK_TIMERS.values()}}
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))  # stock: spec inside the state
    script_engine = SafeScriptEngine(SystemClock())
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
    workflow.do_engine_steps()
    state = first = serializer.serialize_json(workflow)

    def step(state: str) -> str:
        workflow = serializer.deserialize_json(state)
        workflow.script_engine = script_engine
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data["fortsatt"] = True
        task.run()
        workflow.do_engine_steps()
        return serializer.serialize_json(workflow)

    repeated = []
    for _ in range(300):
        started = time.perf_counter()
        step(first)
        repeated.append(time.perf_counter() - started)
    RESULTS["spiffworkflow alone, turn 1 (x300)"] = _stats(repeated)
    samples = []
    for turn in range(WINDOW):
        started = time.perf_counter()
        state = step(state)
        samples.append(time.perf_counter() - started)
    RESULTS["spiffworkflow alone, turns 1-100"] = _stats(samples)
    RESULTS["spiffworkflow alone, state bytes at turn 100"] = {"bytes": len(state)}


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_api_step_cost_by_case_age(server, db_url):
    deployed(server, "loop.bpmn")
    backend = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    with server.client("kim", "kontaktperson") as kim:
        case = start_case(kim, "uppfoljning")
        task_id = case["open_tasks"][0]["id"]
        samples = []
        for turn in range(TURNS):
            started = time.perf_counter()
            response = complete(kim, task_id, fortsatt=True, varv=turn)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200
            task_id = kim.get("/tasks", params={"case_id": case["id"]}).json()["items"][0]["id"]
    early, late = _stats(samples[:WINDOW]), _stats(samples[-WINDOW:])
    RESULTS[f"api {backend}, turns 1-100"] = early
    RESULTS[f"api {backend}, turns 1901-2000"] = late
    RESULTS[f"api {backend}, late/early median"] = {"ratio": late["median_ms"] / early["median_ms"]}
    assert late["median_ms"] < early["median_ms"] * 1.5, "step cost must not grow with the case's age"


def teardown_module(module):
    print(f"\nmachine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    for name, figures in RESULTS.items():
        print(f"  {name:45s} " + "  ".join(f"{k}={v:.2f}" for k, v in figures.items()))
