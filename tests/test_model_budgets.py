"""Every evaluation runs on a budget: a model that costs too much fails its own case's step, and nothing else.

The models are valid by every deploy-time rule; what they would cost shows only when they
run (a number squared thirty times, a string doubled forty times, a list nested sixty deep,
a loop with nothing to wait for). The budget stops each while it runs.
"""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from conftest import FIXTURES, ROOT, START
from hostile_models import HOSTILE, SQUARES, script_model
from lxml import etree

from engine.bpmn import dmn
from engine.bpmn.budget import Budget, BudgetExceeded, find_budget_error, size_of
from engine.bpmn.expressions import Evaluator
from engine.bpmn.parser import _new_parser
from engine.bpmn.script_engine import SafeScriptEngine
from engine.core.clock import ManualClock

RULES = {"kvadrat": "numbers of at most 4096 bits", "dubbla": "1000000 bytes per value",
         "nasta": "1000000 bytes per value", "snurra": "500 elements per step of a case"}
ELEMENTS = {"kvadrat": {"berakna"}, "dubbla": {"berakna"}, "nasta": {"berakna"}, "snurra": {"igen", "rakna", "klar"}}


def deploy(server, files: dict[str, bytes]) -> None:
    with server.client("agda", "processagare") as owner:
        answer = owner.post("/process-definitions", files=[("files", (name, content, "application/xml"))
                                                           for name, content in files.items()])
        assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_a_model_beyond_its_budget_blocks_its_case_at_the_element_naming_the_limit(server, key):
    """The request answers; the case is stopped at the element as an incident (issue 18), naming the limit."""
    deploy(server, {f"{key}.bpmn": HOSTILE[key]})
    with server.client("kim", "skolpersonal") as kim, server.client("agda", "processagare") as owner:
        answer = kim.post("/cases", json={"process_key": key, "data": {}})
        assert answer.status_code == 201, answer.text
        case = kim.get(f"/cases/{answer.json()['id']}").json()
        assert case["status"] == "open" and case["blocked"] is True, case
        blocked = case["blocked_by"]
        assert blocked["element_id"] in ELEMENTS[key] and RULES[key] in blocked["error"], blocked
        [incident] = owner.get("/incidents", params={"process_key": key}).json()["items"]
        assert incident["element_id"] == blocked["element_id"]
        assert kim.get("/health").status_code == 200


def test_a_timer_firing_beyond_the_budget_blocks_that_case_alone_and_the_others_fire(server):
    deploy(server, {"kvadrat_senare.bpmn": script_model("kvadrat_senare", SQUARES, timer="PT1H"),
                    "vanta.bpmn": (FIXTURES / "vanta.bpmn").read_bytes()})
    with server.client("kim", "skolpersonal") as kim:
        hostile = kim.post("/cases", json={"process_key": "kvadrat_senare", "data": {}}).json()
        other = kim.post("/cases", json={"process_key": "vanta", "data": {}}).json()
        server.clock.set(START + timedelta(days=30))
        server.fire_timers()
        assert kim.get(f"/cases/{other['id']}").json()["status"] == "completed"
        case = kim.get(f"/cases/{hostile['id']}").json()
        assert case["status"] == "open" and case["blocked"] is True, "stopped at the element, never dropped"
        assert case["blocked_by"]["element_id"] == "berakna"
        assert "numbers of at most 4096 bits" in case["blocked_by"]["error"], case["blocked_by"]


def test_the_budget_is_a_setting():
    """A tighter budget refuses what the default allows (the operator sets SAMVERKA_EXPRESSION_*)."""
    evaluator = Evaluator(ManualClock(START), Budget(int_bits=64, steps=50))
    assert evaluator.evaluate("2 * 3", {}) == 6
    with pytest.raises(BudgetExceeded, match="64 bits"):
        evaluator.evaluate("x * x", {"x": 2 ** 40})
    with pytest.raises(BudgetExceeded, match="50 evaluation steps"):
        evaluator.evaluate(" + ".join(["1"] * 60), {})


def test_a_decision_cell_beyond_the_budget_is_stopped_and_named_as_such():
    """DMN cells run through the same evaluator: a FEEL input expression squaring a huge number is stopped."""
    table = (ROOT / "processes" / "skolfranvaro_trappa.dmn").read_bytes().replace(
        b"<text>steg</text>", b"<text>steg * steg</text>")  # the rung, squared
    root = etree.fromstring(table)
    assert dmn.check("t.dmn", root) == [], "valid by every deploy-time rule"
    decision = _new_parser({"t.dmn": root}, validate=False).get_engine("trappsteg", None)
    workflow = SimpleNamespace(script_engine=SafeScriptEngine(ManualClock(START)))
    data = {"steg": 2 ** 3000}
    with pytest.raises(Exception) as raised:
        decision.result(SimpleNamespace(workflow=workflow, data=data))
    over = find_budget_error(raised.value)
    assert over is not None and over.rule == "numbers of at most 4096 bits", raised.value


EVALUATOR = Evaluator(ManualClock(START))


@pytest.mark.parametrize("expression, names, limit", [
    ("x - 1", {"x": -(2 ** 4096)}, "4096 bits"),
    ("x + x", {"x": 2 ** 4096}, "4096 bits"),
    ("[s] * 5", {"s": "a" * 300_000}, "1000000 bytes per value"),
    ("{'a': s, 'b': s, 'c': s, 'd': s}", {"s": "a" * 300_000}, "1000000 bytes per value"),
    ("s + s", {"s": "a" * 600_000}, "1000000 bytes per value"),
    ("s", {"s": "a" * 300_000}, "256000 bytes of output"),
    ('"%0999999d" % 1', {}, "format widths of at most 1000"),
    ('f"{1:>{w}}"', {"w": 10 ** 8}, "format widths of at most 1000"),
])
def test_each_value_an_expression_makes_is_held_to_the_budget(expression, names, limit):
    with pytest.raises(BudgetExceeded) as raised:
        EVALUATOR.evaluate(expression, names)
    assert limit in raised.value.rule and raised.value.element is None
    named = raised.value.at("berakna")
    assert named.element == "berakna" and "at berakna" in named.detail and named.rule == raised.value.rule


def test_what_a_script_writes_is_held_to_the_output_budget_and_plain_scripts_run():
    data = {"n": 1}
    EVALUATOR.execute("n += 1\nnamn = f'{n:>3}'\nlista = [n] * 3", data)
    assert data == {"n": 2, "namn": "  2", "lista": [2, 2, 2]}
    with pytest.raises(BudgetExceeded, match="256000 bytes of output"):
        EVALUATOR.execute("a = 'x' * 200000\nb = a", {})
    with pytest.raises(BudgetExceeded, match="4096 bits"):
        EVALUATOR.execute("x = 1\nx += y * y", {"y": 2 ** 3000})


def test_a_value_is_measured_as_written_out_however_its_parts_are_shared():
    shared = ["ab"] * 3  # 8 + 3 × (8 + 2) bytes
    assert size_of([shared, shared], 10**6) == 8 + 2 * 38, "a shared part counts each time it is referred to"
    nested = [1]
    for _ in range(60):
        nested = [nested, nested]  # 2 ** 60 items written out, 61 distinct lists
    assert size_of(nested, 10**6) > 10**6
    itself = [1, 2]
    itself.append(itself)
    assert size_of(itself, 10**6) > 10**6, "a value that contains itself is endless written out"
    assert size_of({"a": "xyz", "b": [1, 2, 3]}, 10**6) == 8 + 9 + 9 + 11 + 32
