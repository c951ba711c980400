"""Deploy-time parsing: safe XML, BPMN/DMN schema, supported elements and safe expressions.

`parse_bundle` turns uploaded files into one `ParsedProcess` per executable process,
or raises InvalidInput naming the file, line, element and rule for every problem.
`load_spec` rebuilds the SpiffWorkflow spec of a stored version (cached by engine.specs).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.bpmn import dataflow, dmn, lanes
from engine.bpmn.budget import Budget, TimerLimits
from engine.bpmn.expressions import LANGUAGE, LANGUAGE_ALIASES, validate_expression, validate_script
from engine.bpmn.references import BPMN_NS, CAMUNDA_NS, FORM_KEY, NS, element_id, form_keys_of, reference_errors
from engine.bpmn.timer_events import timer_event_definition, timer_validator
from engine.core.errors import ExpressionError, FieldError, InvalidInput

UNSUPPORTED = {"serviceTask": "service tasks would call out of the engine; use a user task or a message",
               "complexGateway": "complex gateways are not supported; use exclusive or inclusive gateways"}

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _with_clock_timers(parser_class):
    """Subclass an event parser so its timers read the engine clock."""
    def parse_timer_event(self, event):
        return timer_event_definition(parser_class.parse_timer_event(self, event))
    return type(parser_class.__name__, (parser_class,), {"parse_timer_event": parse_timer_event})


def _reading_is_interrupting(parser_class):
    """Subclass the start event parser so event-subprocess starts carry `interrupting`.

    The library does not read isInterrupting; BPMN's default for an event subprocess's start is true.
    """
    def create_task(self):
        task = parser_class.create_task(self)
        task.interrupting = (self.node.getparent().get("triggeredByEvent") == "true"
                             and self.node.get("isInterrupting", "true") != "false")
        return task
    return type(parser_class.__name__, (parser_class,), {"create_task": create_task})


class SamverkaProcessParser(ProcessParser):
    """Elements inside a subprocess keep the lane they are drawn in; only unplaced ones inherit the subprocess's.

    (The library gives every element of a subprocess its subprocess's lane, which would hand a
    chef's escalation drawn in the Chef lane to whoever works the subprocess.)
    """

    def __init__(self, *args, lane=None, **kwargs):
        super().__init__(*args, lane=None, **kwargs)
        self.inherited_lane = lane

    def get_lane_name(self, node_id):
        return self.lanes_by_node_id.get(node_id) or self.inherited_lane


class SamverkaParser(CamundaParser):
    """The Camunda-flavoured parser (formKey, decisionRef) with engine-clock timers and per-element lanes."""

    PROCESS_PARSER_CLASS = SamverkaProcessParser

    OVERRIDE_PARSER_CLASSES = {
        tag: ((_with_clock_timers(p) if hasattr(p, "parse_timer_event") else p), spec)
        for tag, (p, spec) in CamundaParser.OVERRIDE_PARSER_CLASSES.items()
    }
    _start = f"{{{BPMN_NS}}}startEvent"
    OVERRIDE_PARSER_CLASSES[_start] = (_reading_is_interrupting(OVERRIDE_PARSER_CLASSES[_start][0]),
                                       OVERRIDE_PARSER_CLASSES[_start][1])


@dataclass
class ParsedProcess:
    key: str
    name: str
    files: dict[str, str]  # file name -> XML text: the process's own file first, then its dependencies
    form_keys: frozenset[str] = frozenset()  # the forms its user tasks and start events name
    warnings: list[FieldError] = field(default_factory=list)  # what could not be proven right (engine.dataflow)
    content_hash: str = field(init=False)

    def __post_init__(self):
        digest = json.dumps(sorted(self.files.items()), ensure_ascii=False).encode()
        self.content_hash = hashlib.sha256(digest).hexdigest()




def _safe_tree(name: str, content: bytes) -> etree._Element:
    """Parse XML refusing DTDs and entities (XXE, billion laughs); keep line numbers."""
    try:
        safe_et.fromstring(content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InvalidInput("XML refused", [FieldError(name, f"forbidden XML construct: {exc}", file=name)]) from None
    except safe_et.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise InvalidInput("XML syntax error", [FieldError(name, f"XML syntax error: {exc}", file=name, line=line)]) from None
    try:
        return etree.fromstring(content, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidInput("XML syntax error", [FieldError(name, f"XML syntax error: {exc.msg}", file=name, line=exc.lineno)]) from None


def _expression_checks(root, limits: TimerLimits) -> list[tuple[object, str, callable]]:
    """(node, text, validator) for every expression-bearing node in a BPMN document."""
    checks = []
    xpath = lambda q: root.xpath(q, namespaces=NS)  # noqa: E731
    for node in xpath(".//bpmn:conditionExpression | .//bpmn:loopCardinality | .//bpmn:completionCondition"
                      " | .//bpmn:conditionalEventDefinition/bpmn:condition | .//bpmn:messagePath"):
        checks.append((node, node.text, validate_expression))
    for kind in ("timeDate", "timeDuration", "timeCycle"):
        for node in xpath(f".//bpmn:{kind}"):
            checks.append((node, node.text, timer_validator(kind, limits)))
    for node in xpath(".//bpmn:messageEventDefinition[@camunda:expression]"):  # a thrown message's payload
        checks.append((node, node.get(f"{{{CAMUNDA_NS}}}expression"), validate_expression))
    for node in xpath(".//bpmn:scriptTask/bpmn:script"):
        checks.append((node, node.text, validate_script))
    return [(n, t.strip(), v) for n, t, v in checks if t and t.strip()]


def _language_errors(name: str, root) -> list[FieldError]:
    """The definitions, each formal expression and each script must be in the engine's language."""
    errors = []
    expected = f"samverka evaluates {LANGUAGE} (leave the attribute out, or declare that)"
    declared = root.get("expressionLanguage")
    if declared and declared not in LANGUAGE_ALIASES:
        errors.append(FieldError(name, f"expressionLanguage {declared[:120]!r} is not supported: {expected}",
                                 file=name, line=root.sourceline, element=root.get("id")))
    for node in root.xpath(".//*[@language] | .//bpmn:scriptTask[@scriptFormat]", namespaces=NS):
        value = node.get("language") or node.get("scriptFormat")
        if value not in LANGUAGE_ALIASES:
            errors.append(FieldError(name, f"expression language {value[:120]!r} is not supported: {expected}",
                                     file=name, line=node.sourceline, element=element_id(node)))
    return errors


def _check_document(name: str, root, limits: TimerLimits) -> list[FieldError]:
    if name.endswith(".dmn"):
        return dmn.check(name, root)
    errors = _language_errors(name, root)
    for tag, why in UNSUPPORTED.items():
        for node in root.xpath(f".//bpmn:{tag}", namespaces=NS):
            errors.append(FieldError(name, f"unsupported element bpmn:{tag}: {why}", file=name,
                                     line=node.sourceline, element=node.get("id")))
    for node in root.xpath(".//bpmn:userTask[@camunda:formKey]", namespaces=NS):
        key = node.get(f"{{{CAMUNDA_NS}}}formKey")
        if not FORM_KEY.match(key):
            errors.append(FieldError(name, f"formKey {key[:120]!r} must be a form name (a-z, 0-9, _ and -), "
                                     "not a path", file=name, line=node.sourceline, element=node.get("id")))
    for node, text, validator in _expression_checks(root, limits):
        try:
            validator(text)
        except ExpressionError as exc:
            what = "timer" if exc.extra.get("timer") else "forbidden expression"
            errors.append(FieldError(name, f"{what} {text[:120]!r}: {exc.message}", file=name,
                                     line=node.sourceline, element=element_id(node)))
    return errors


def _validation_error(exc: SpiffWorkflowException, roots: dict[str, etree._Element]) -> FieldError:
    file = getattr(exc, "file_name", "") or None
    element = getattr(exc, "id", "") or getattr(exc, "task_id", "") or None
    line = getattr(exc, "line_number", "") or None
    if line is None and element:
        for fname, root in roots.items():
            found = root.xpath("//*[@id=$i]", i=element)
            if found:
                file, line = file or fname, found[0].sourceline
                break
    return FieldError(file or "bundle", str(exc).split("\n")[0], file=file, line=line, element=element)


def _new_parser(trees: dict[str, etree._Element], validate: bool, dmn_language: str = "feel") -> SamverkaParser:
    parser = SamverkaParser(validator=BpmnValidator() if validate else None)
    for name, root in trees.items():
        if name.endswith(".dmn"):
            parser.add_dmn_xml(dmn.translated(root, dmn_language), filename=name)
    for name, root in trees.items():
        if name.endswith(".bpmn"):
            parser.add_bpmn_xml(root, filename=name)
    return parser


def _dependencies(parser: SamverkaParser, key: str, trees) -> list[str]:
    """Files a process needs: its own, called processes', and referenced decision tables'."""
    files = [parser.get_process_parser(key).filename]
    for sub_key in parser.get_subprocess_specs(key):
        sub = parser.get_process_parser(sub_key)
        if sub is not None and sub.filename not in files:
            files.append(sub.filename)
    for fname in list(files):
        for ref in trees[fname].xpath(".//bpmn:businessRuleTask/@camunda:decisionRef", namespaces=NS):
            dmn = parser.dmn_parsers.get(ref)
            if dmn is not None and dmn.filename not in files:
                files.append(dmn.filename)
    return files


def parse_bundle(files: dict[str, bytes], forms: dict[str, set[str]] | None = None,
                 limits: TimerLimits | None = None) -> list[ParsedProcess]:
    """Validate uploaded models and return one ParsedProcess per executable process.

    With `forms` (form key -> its top-level fields, the forms deployed with the models) every
    formKey must name one of them, and each process is warned of the data its gateways read
    that nothing upstream is known to set, and a timer that reads only data nothing sets is refused.
    `limits` are the timer rules (the configured ones by default)."""
    limits = limits or Budget.from_settings().timers
    form_keys = set(forms) if forms is not None else None
    errors: list[FieldError] = []
    trees: dict[str, etree._Element] = {}
    for name, content in files.items():
        if not (name.endswith(".bpmn") or name.endswith(".dmn")):
            errors.append(FieldError(name, "only .bpmn and .dmn files can be deployed", file=name))
            continue
        try:
            trees[name] = _safe_tree(name, content)
        except InvalidInput as exc:
            errors.extend(exc.errors)
            continue
        errors.extend(_check_document(name, trees[name], limits))
    decisions = {d for n, t in trees.items() if n.endswith(".dmn")
                 for d in t.xpath(".//*[local-name()='decision']/@id")}
    for name, root in trees.items():
        if name.endswith(".bpmn"):
            errors.extend(reference_errors(name, root, form_keys, decisions))
            errors.extend(lanes.declaration_errors(name, root))
    if forms is not None and not errors:
        errors.extend(dataflow.unset_timer_names(trees, forms))
    if errors:
        raise InvalidInput("deployment refused", errors)
    try:
        parser = _new_parser(trees, validate=True)
        keys = parser.get_process_ids()
        for key in keys:
            parser.get_subprocess_specs(key)
    except SpiffWorkflowException as exc:
        raise InvalidInput("deployment refused", [_validation_error(exc, trees)]) from None
    if not keys:
        raise InvalidInput("deployment refused", [FieldError(
            "files", "no executable process (isExecutable=\"true\") found; a decision table deployed alone needs a "
                     "deployed process whose decisionRef names one of its decisions")])
    texts = {name: content.decode("utf-8") for name, content in files.items()}
    outputs = {d.get("id"): set(d.xpath(".//*[local-name()='output']/@name"))
               for n, t in trees.items() if n.endswith(".dmn") for d in t.xpath(".//*[local-name()='decision']")}
    result = []
    for key in keys:
        spec = parser.get_spec(key)
        needed = _dependencies(parser, key, trees)
        own = trees[needed[0]].xpath("//bpmn:process[@id=$k]", namespaces=NS, k=key)
        warned = dataflow.warnings(needed[0], own, forms or {}, outputs)
        result.append(ParsedProcess(key, spec.description or key, {f: texts[f] for f in needed},
                                    form_keys_of(trees, needed), warned))
    return result


def load_spec(key: str, files: dict[str, str], dmn_language: str = "feel"):
    """Parse a stored version's files into (spec, subprocess_specs); it was validated at deploy.

    `dmn_language` is what its DMN cells are when they declare none ("python" for versions
    deployed before decision tables were read as FEEL)."""
    trees = {name: etree.fromstring(text.encode("utf-8"), _XML_PARSER) for name, text in files.items()}
    parser = _new_parser(trees, validate=False, dmn_language=dmn_language)
    return parser.get_spec(key), parser.get_subprocess_specs(key)


def start_form_key(key: str, files: dict[str, str]) -> str | None:
    """The formKey of process `key`'s own start event: the form its start data must match (None: no start data)."""
    for text in files.values():
        root = etree.fromstring(text.encode("utf-8"), _XML_PARSER)
        for node in root.xpath("bpmn:process[@id=$key]/bpmn:startEvent", namespaces=NS, key=key):
            return node.get(f"{{{CAMUNDA_NS}}}formKey") or None
    return None
