"""References a model makes that must resolve at deploy: forms, decisions, messages."""
from __future__ import annotations

import difflib
import re

from lxml import etree

from engine.core.errors import FieldError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
FORM_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")  # a form's name in the bundle, never a path


def element_id(node) -> str | None:
    """The id of a node, or of its nearest ancestor that has one."""
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


_PEEK = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def declared_decisions(content: bytes) -> set[str]:
    """The decision ids a DMN file declares (nothing if it does not parse: the deploy checks say why)."""
    try:
        return set(etree.fromstring(content, _PEEK).xpath(".//*[local-name()='decision']/@id"))
    except etree.XMLSyntaxError:
        return set()


def decision_refs(files: dict[str, str]) -> set[str]:
    """The decisions a stored version's BPMN files call."""
    return {ref for name, text in files.items() if name.endswith(".bpmn")
            for ref in etree.fromstring(text.encode("utf-8"), _PEEK).xpath(
                ".//bpmn:businessRuleTask/@camunda:decisionRef", namespaces=NS)}


_PART_FORM = re.compile(r"(?:^|,)\s*form\s*=\s*([^,\s]+)")


def _part_forms(root) -> list[tuple[object, str]]:
    """(property, form key) of every task part that names a form (`part` = `NAME: ROLE, form=KEY`; engine.core.seats)."""
    return [(prop, match.group(1)) for prop in root.xpath(
        ".//bpmn:userTask/bpmn:extensionElements/camunda:properties/camunda:property[@name='part']", namespaces=NS)
        for match in _PART_FORM.finditer((prop.get("value") or "").partition(":")[2])]


def form_keys_of(trees, names) -> frozenset[str]:
    """The formKeys the BPMN files among `names` use (their tasks' parts' forms too)."""
    return frozenset(key for n in names if n.endswith(".bpmn")
                     for key in [*trees[n].xpath(".//@camunda:formKey", namespaces=NS),
                                 *(k for _, k in _part_forms(trees[n]))])


def _nearest(name: str, known) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def reference_errors(name: str, root, form_keys: set[str] | None, decisions: set[str]) -> list[FieldError]:
    """Every formKey names a form of the deployment, every decisionRef a decision, every messageRef a message."""
    errors = []

    def refuse(node, message):
        errors.append(FieldError(name, message, file=name, line=node.sourceline, element=element_id(node)))
    for node in root.xpath(".//bpmn:userTask[@camunda:formKey] | .//bpmn:startEvent[@camunda:formKey]",
                           namespaces=NS):
        key = node.get(f"{{{CAMUNDA_NS}}}formKey")
        if form_keys is not None and FORM_KEY.match(key) and key not in form_keys:
            refuse(node, f"formKey {key!r} names no form in the deployment{_nearest(key, form_keys)}: "
                         f"deploy {key}.schema.json with the model")
    for prop, key in _part_forms(root):
        if form_keys is not None and (not FORM_KEY.match(key) or key not in form_keys):
            errors.append(FieldError(name, f"the part's form {key!r} names no form in the deployment"
                                           f"{_nearest(key, form_keys)}: deploy {key}.schema.json with the model",
                                     file=name, line=prop.sourceline, element=element_id(prop)))
    for node in root.xpath(".//bpmn:businessRuleTask", namespaces=NS):
        ref = node.get(f"{{{CAMUNDA_NS}}}decisionRef")
        if not ref:
            refuse(node, "a business rule task needs camunda:decisionRef naming a decision")
        elif ref not in decisions:
            refuse(node, f"decisionRef {ref!r} names no decision in the deployment{_nearest(ref, decisions)}")
    messages = {m.get("id") for m in root.xpath("bpmn:message", namespaces=NS)}
    for node in root.xpath(".//*[@messageRef]"):
        ref = node.get("messageRef")
        if ref not in messages:
            refuse(node, f"messageRef {ref!r} names no bpmn:message declared in this file{_nearest(ref, messages)}")
    return errors
