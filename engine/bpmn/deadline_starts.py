"""What each timer deadline of a model counts from: the data its timeDate expression starts at.

`end_of_day(add_days(aktualiserad_datum, 7))` counts from `aktualiserad_datum`;
`end_of_day(add_months(sdq["datum"], 6))` from the last SDQ's date; `end_of_day(nasta_uppfoljning)`
is the plan's own date; `add_school_days(today(), 5)` counts from the moment the timer was set,
i.e. the step that opened the task. The simulation's timeline names the step that set that data,
so a process owner sees each deadline beside its start event.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

from lxml import etree

from engine.bpmn.expressions import parse_expression
from engine.core.errors import ExpressionError

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_SHIFTS = {"add_days", "add_months", "add_school_days", "next_school_day", "end_of_day"}
TODAY = "today()"


@dataclass(frozen=True)
class DeadlineStart:
    timer: str  # the boundary event's name
    name: str  # the data the deadline counts from, or TODAY
    key: str | None = None  # a field of it (`sdq["datum"]` → key datum)

    @property
    def label(self) -> str:
        return self.name + (f".{self.key}" if self.key else "")


def _start_of(node: ast.AST) -> tuple[str, str | None] | None:
    """Follow the first argument of the date-shifting calls down to the data (or today()) they start at."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "today":
            return TODAY, None
        if node.func.id not in _SHIFTS or not node.args:
            return None
        node = node.args[0]
    if isinstance(node, ast.Name):
        return node.id, None
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        return node.value.id, node.slice.value
    return None


def start_of(expression: str) -> tuple[str, str | None] | None:
    """(name, key) a timeDate expression counts from; None when it names no single start."""
    try:
        tree = parse_expression(expression.strip())
        return _start_of(getattr(tree, "body", tree))
    except (SyntaxError, ExpressionError):
        return None


def deadline_starts(files: dict[str, str]) -> dict[str, list[DeadlineStart]]:
    """Per element a timer is attached to, what each of its timeDate deadlines counts from."""
    found: dict[str, list[DeadlineStart]] = {}
    for name, text in files.items():
        if not name.endswith(".bpmn"):
            continue
        root = etree.fromstring(text.encode("utf-8"), _PARSER)
        for event in root.xpath(".//*[local-name()='boundaryEvent']"):
            for date in event.xpath("./*[local-name()='timerEventDefinition']/*[local-name()='timeDate']"):
                start = start_of(date.text or "")
                if start is not None:
                    found.setdefault(event.get("attachedToRef"), []).append(
                        DeadlineStart(event.get("name") or event.get("id"), *start))
    return found
