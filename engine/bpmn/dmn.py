"""Decision tables: their declared expression language, checked cell by cell at deploy and translated.

A DMN file that declares no `expressionLanguage` is FEEL (the DMN default, and what Camunda
Modeler writes); one may also declare samverka's own language (engine.bpmn.expressions), on
the definitions or on one cell. FEEL cells are translated to that language before
SpiffWorkflow sees them (`translated`), so both deploy and every later load evaluate the same text.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from engine.bpmn.expressions import LANGUAGE, LANGUAGE_ALIASES, validate_dmn_entry, validate_expression
from engine.bpmn.feel import FeelError, expression, unary_tests
from engine.core.errors import ExpressionError, FieldError

FEEL_URI = "https://www.omg.org/spec/DMN/20191111/FEEL/"


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def language(uri: str | None, default: str = "feel") -> str | None:
    """'feel', 'python' (the safe subset) or None for a language samverka does not evaluate."""
    if not uri:
        return default
    if "feel" in uri.lower():
        return "feel"
    return "python" if uri in LANGUAGE_ALIASES else None


def _refusal(uri: str) -> str:
    return (f"expressionLanguage {uri[:120]!r} is not supported: decision tables are FEEL (leave the attribute "
            f"out, or declare {FEEL_URI}) or samverka's expression language ({LANGUAGE})")


@dataclass
class Cell:
    node: object  # the <text> element
    role: str  # input expression | input entry | output entry
    where: str  # for people: the rule and column
    element: str | None  # the rule's (or input's) id
    language: str | None
    uri: str | None  # the declared language, when it is one samverka does not evaluate


def _children(node, name):
    return [c for c in node if _local(c.tag) == name]


def _text(node):
    found = _children(node, "text")
    return found[0] if found else None


def cells(root, fallback: str = "feel") -> list[Cell]:
    """Every expression-bearing cell of every decision table in a DMN document.

    `fallback` is the language of a document that declares none: FEEL, except for versions
    stored before FEEL was read (their cells are the safe subset)."""
    default = language(root.get("expressionLanguage"), fallback) or fallback
    found = []

    def add(node, role, where, element, holder):
        text = _text(node)
        if text is None:
            return
        uri = holder.get("expressionLanguage")
        found.append(Cell(text, role, where, element, language(uri, default), uri))

    for table in root.iter():
        if _local(table.tag) != "decisionTable":
            continue
        inputs = _children(table, "input")
        outputs = _children(table, "output")
        labels = [i.get("label") or i.get("id") for i in inputs]
        for column in inputs:
            for expr in _children(column, "inputExpression"):
                add(expr, "input expression", f"input {column.get('label') or column.get('id')!r}",
                    column.get("id"), expr)
        for row, rule in enumerate(_children(table, "rule"), start=1):
            rule_name = f"rule {rule.get('id')} (row {row})"
            for i, entry in enumerate(_children(rule, "inputEntry")):
                label = labels[i] if i < len(labels) else f"#{i + 1}"
                add(entry, "input entry", f"{rule_name}, input column {label!r}", rule.get("id"), entry)
            for i, entry in enumerate(_children(rule, "outputEntry")):
                label = (outputs[i].get("name") or outputs[i].get("label")) if i < len(outputs) else f"#{i + 1}"
                add(entry, "output entry", f"{rule_name}, output column {label!r}", rule.get("id"), entry)
    return found


def _translate(cell: Cell, text: str) -> str:
    if cell.role == "input entry":
        return unary_tests(text) if text else "-"  # an empty input cell matches anything, as `-` does
    if not text and cell.role == "output entry":
        return "None"  # an empty output cell is null
    return expression(text)


def check(name: str, root) -> list[FieldError]:
    """One FieldError per cell outside its declared language, naming the rule and column."""
    errors = []
    uri = root.get("expressionLanguage")
    if language(uri) is None:
        errors.append(FieldError(name, _refusal(uri), file=name, line=root.sourceline, element=root.get("id")))
        return errors
    for cell in cells(root):
        text = (cell.node.text or "").strip()

        def refuse(message, cell=cell):
            errors.append(FieldError(name, f"{cell.where}: {message}", file=name, line=cell.node.sourceline,
                                     element=cell.element))
        if cell.language is None:
            refuse(_refusal(cell.uri))
            continue
        try:
            if cell.language == "python":
                if text and not (cell.role == "input entry" and text == "-"):
                    (validate_dmn_entry if cell.role == "input entry" else validate_expression)(text)
                continue
            translated = _translate(cell, text)
            if translated != "-":
                validate_expression(translated)  # the subset's own checks (e.g. no leading underscores)
        except FeelError as exc:
            at = f" (character {exc.column})" if exc.column else ""
            refuse(f"FEEL {cell.role} {text[:120]!r}{at}: {exc}")
        except ExpressionError as exc:
            refuse(f"{cell.role} {text[:120]!r}: {exc.message}")
    return errors


def translated(root, fallback: str = "feel"):
    """A copy of a (checked) DMN document whose FEEL cells are written in the safe subset."""
    root = copy.deepcopy(root)
    for cell in cells(root, fallback):
        if cell.language == "feel":
            cell.node.text = _translate(cell, (cell.node.text or "").strip())
    return root
