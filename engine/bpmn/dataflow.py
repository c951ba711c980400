"""Which data a gateway tests that nothing upstream is known to set (warnings), and timers reading only unset data.

A name counts as set upstream when an element that can run before the gateway sets it: a
user task's or start event's form (its top-level properties), a script's assignment, a
decision's outputs. A process may also declare what its cases start with, as Camunda
Modeler writes extension properties: `<camunda:property name="input" value="akut" />`.
Messages and called processes carry data no model states, so what they bring cannot be proven.
"""
from __future__ import annotations

import ast
from collections import defaultdict

from engine.bpmn.expressions import FUNCTION_NAMES, parse_expression, parse_script
from engine.bpmn.references import element_id
from engine.bpmn.timer_events import iso_literal
from engine.core.errors import ExpressionError, FieldError

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
_CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}


def _local(node) -> str:
    return node.tag.rsplit("}", 1)[-1] if isinstance(node.tag, str) else ""


def tested_names(expression: str) -> set[str]:
    """The data names an expression reads (not the functions it calls)."""
    try:
        tree = parse_expression(expression)
    except (SyntaxError, ExpressionError):
        return set()
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called} - FUNCTION_NAMES


def _sets(node, forms: dict, decisions: dict) -> set[str]:
    kind, names = _local(node), set()
    key = node.get(f"{CAMUNDA}formKey")
    if key and forms.get(key):
        names |= forms[key]
    if kind == "scriptTask":
        script = node.find(f"{BPMN}script")
        try:
            names |= {target for target, _, _ in parse_script((script.text or "") if script is not None else "")}
        except (SyntaxError, ExpressionError):
            pass
    if kind == "businessRuleTask":
        names |= decisions.get(node.get(f"{CAMUNDA}decisionRef"), set())
        if node.get(f"{CAMUNDA}resultVariable"):
            names.add(node.get(f"{CAMUNDA}resultVariable"))
    return names


def _graph(process):
    """Each flow node's predecessors: sequence flows, a boundary event's host, a subprocess and its insides."""
    nodes = {n.get("id"): n for n in process.iter() if n.get("id") and _local(n) not in ("sequenceFlow",)}
    before = defaultdict(set)
    for flow in process.iter(f"{BPMN}sequenceFlow"):
        before[flow.get("targetRef")].add(flow.get("sourceRef"))
    for node in nodes.values():
        parent = node.getparent()
        if _local(node) == "boundaryEvent":
            before[node.get("id")].add(node.get("attachedToRef"))
        if parent is not None and _local(parent) in _CONTAINERS - {"process"}:
            before[parent.get("id")].add(node.get("id"))  # what runs inside runs before what follows
            if not node.findall(f"{BPMN}incoming"):
                before[node.get("id")].add(parent.get("id"))
                if parent.get("triggeredByEvent") == "true":  # an event subprocess may start after anything
                    before[node.get("id")] |= {i for i, n in nodes.items() if n.getparent() is parent.getparent()}
    return nodes, before


def _inputs(process) -> set[str]:
    found = set()
    for prop in process.iterfind(f"{BPMN}extensionElements/{CAMUNDA}properties/{CAMUNDA}property"):
        if prop.get("name") in ("input", "inputs"):
            found |= {v.strip() for v in (prop.get("value") or "").split(",") if v.strip()}
    return found


def warnings(name: str, processes, forms: dict[str, set[str]], decisions: dict[str, set[str]]) -> list[FieldError]:
    """A warning for each name a gateway's condition reads that no element upstream is known to set."""
    found = []
    for process in processes:
        nodes, before = _graph(process)
        declared = _inputs(process)
        for flow in process.iter(f"{BPMN}sequenceFlow"):
            condition = flow.find(f"{BPMN}conditionExpression")
            if condition is None or not (condition.text or "").strip():
                continue
            upstream, todo = set(), [flow.get("sourceRef")]
            while todo:
                current = todo.pop()
                if current in upstream:
                    continue
                upstream.add(current)
                todo.extend(before.get(current, ()))
            known = set(declared)
            for node_id in upstream:
                if node_id in nodes:
                    known |= _sets(nodes[node_id], forms, decisions)
            for missing in sorted(tested_names(condition.text) - known):
                found.append(FieldError(name, f"the condition reads {missing!r}, which nothing upstream is known to "
                                        "set (a form, script or decision), nor a declared input "
                                        f"(<camunda:property name=\"input\" value=\"{missing}\"/>)",
                                        file=name, line=condition.sourceline, element=flow.get("id")))
    return found


_TIMERS = ("timeDate", "timeDuration", "timeCycle")


def _settable(trees: dict, forms: dict[str, set[str]]) -> set[str]:
    """Every data name something in a deployment could set: forms, scripts, decisions, messages, inputs."""
    names = set().union(*forms.values()) if forms else set()
    for file, root in trees.items():
        if file.endswith(".dmn"):
            names |= set(root.xpath(".//*[local-name()='output']/@name"))
            continue
        for node in root.iter():
            if not isinstance(node.tag, str):
                continue
            names |= _sets(node, forms, {})
            names |= {node.get(f"{CAMUNDA}{a}") for a in ("elementVariable", "resultVariable")} - {None}
            if _local(node) == "message":
                names |= {node.get("name"), node.get("id")} - {None}
            if _local(node) == "process":
                names |= _inputs(node)
    return names


def unset_timer_names(trees: dict, forms: dict[str, set[str]]) -> list[FieldError]:
    """A refusal for each timer expression that reads only data nothing in the deployment could set.

    (`garbage` in a timeDuration is a name, not a duration: no case could ever start past it.)"""
    settable = _settable(trees, forms)
    found = []
    for file, root in trees.items():
        if not file.endswith(".bpmn"):
            continue
        for kind in _TIMERS:
            for node in root.iter(f"{BPMN}{kind}"):
                text = (node.text or "").strip()
                read = tested_names(text) if text and not iso_literal(kind, text) else set()
                if read and not read & settable:
                    found.append(FieldError(file, f"the {kind} {text[:80]!r} is neither an ISO 8601 value nor an "
                                            f"expression over data anything in the deployment sets (it reads "
                                            f"{', '.join(sorted(read))}; rule: a timer must say when it fires)",
                                            file=file, line=node.sourceline, element=element_id(node)))
    return found
