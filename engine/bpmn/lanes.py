"""The seat and rights declarations of a process's lanes (engine.core.seats), read from their Camunda
extension properties — what the Modeler's properties panel shows as a lane's "Extension properties"."""
from __future__ import annotations

import re

from lxml import etree

from engine.bpmn.references import NS
from engine.core.errors import FieldError
from engine.core.roles import role_id
from engine.core.seats import ACTIONS, REACHES, SEAT_KINDS, Declarations, Grant, Part, Seat

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
LANE_PROPERTIES = ("seat", "appointed_by", "handed_over_by", "not_held_with", "not_case_person", "distinct", "may")
PROCESS_PROPERTIES = ("case_unit",)


def _properties(node) -> list[tuple[str, str, int]]:
    return [(p.get("name") or "", (p.get("value") or "").strip(), p.sourceline) for p in node.xpath(
        "bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)]


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _grant(text: str, lane_role: str | None = None) -> Grant:
    role, _, reach = text.partition("@")
    role_name = role_id(role) or lane_role
    if not role_name:
        raise ValueError(f"{text!r} names no role")
    if reach and reach not in REACHES:
        raise ValueError(f"{text!r}: the reach after @ is one of {', '.join(REACHES[1:])}")
    return Grant(role_name, reach or "participant")


def _appointed_by(value: str) -> tuple[dict[str, tuple[str, ...]], tuple[Grant, ...]]:
    """`STEP: FIELD, FIELD` parts (a step's form appoints) and `ROLE@reach, ...` parts (people who appoint)."""
    steps, appointers = {}, []
    for part in filter(None, (p.strip() for p in value.split(";"))):
        step, colon, fields = part.partition(":")
        if not colon and _list(part) and not any(" " in g for g in _list(part)):
            appointers.extend(_grant(g) for g in _list(part))
            continue
        if not colon or not step.strip() or not _list(fields):
            raise ValueError(f"{part!r}: write STEP: FIELD, FIELD (a step's form) or ROLE@unit (who appoints)")
        steps[step.strip()] = tuple(_list(fields))
    return steps, tuple(appointers)


def _lane(lane, rights: dict[str, list[Grant]], refuse) -> Seat | None:
    role = role_id(lane.get("name"))
    props = {}
    for name, value, line in _properties(lane):
        if name not in LANE_PROPERTIES:
            refuse(lane, line, f"unknown lane property {name!r}; known: {', '.join(LANE_PROPERTIES)}")
        props[name] = value
    if role is None:
        if props:
            refuse(lane, lane.sourceline, "a lane that declares a seat needs a name (its role)")
        return None
    try:
        kind = props.get("seat") or "unit"
        if kind not in SEAT_KINDS:
            raise ValueError(f"seat is one of {', '.join(SEAT_KINDS)}, not {kind!r}")
        appointed_by, appointers = _appointed_by(props.get("appointed_by", ""))
        if kind == "appointed" and not (appointed_by or appointers):
            raise ValueError("an appointed seat names the step fields that appoint it: appointed_by = STEP: FIELD"
                             " (or who appoints it: appointed_by = ROLE@unit)")
        for item in _list(props.get("may", "")):
            action, _, reach = item.partition("@")
            if action not in ACTIONS and not (action.startswith("message:") and action[8:]):
                raise ValueError(f"may: {action!r} is not cancel, add_participant or message:NAME")
            rights.setdefault(action, []).append(_grant(f"{role}@{reach}" if reach else role))
        return Seat(role, lane.get("name"), kind, appointed_by, appointers,
                    tuple(_grant(g) for g in _list(props.get("handed_over_by", ""))),
                    frozenset(filter(None, map(role_id, _list(props.get("not_held_with", ""))))),
                    tuple(_list(props.get("not_case_person", ""))), tuple(_list(props.get("distinct", ""))))
    except ValueError as exc:
        refuse(lane, lane.sourceline, str(exc))
        return None


_PART_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _part(value: str, roles: set[str]) -> Part:
    """`NAME: ROLE[, agency=AGENCY][, required][, form=FORMKEY]`, ROLE being one of the process's lanes."""
    name, colon, rest = value.partition(":")
    items = _list(rest)
    if not colon or not _PART_NAME.match(name.strip()) or not items:
        raise ValueError(f"part {value!r}: write NAME: ROLE[, agency=AGENCY][, required][, form=FORMKEY] "
                         "(NAME in lower case letters, digits and _)")
    role = role_id(items[0])
    if role not in roles:
        raise ValueError(f"part {name.strip()!r}: {items[0]!r} is not a lane (role) of the process")
    options: dict = {}
    for item in items[1:]:
        key, equals, setting = item.partition("=")
        if item == "required":
            options["required"] = True
        elif equals and key.strip() in ("agency", "form") and setting.strip():
            options["form_key" if key.strip() == "form" else "agency"] = setting.strip()
        else:
            raise ValueError(f"part {name.strip()!r}: {item!r} is not required, agency=AGENCY or form=FORMKEY")
    return Part(name.strip(), role, **options)


def _parts(process, roles: set[str], refuse) -> dict[str, tuple[Part, ...]]:
    found = {}
    for task in process.xpath(".//bpmn:userTask", namespaces=NS):
        parts = []
        for prop, value, line in _properties(task):
            if prop != "part":
                continue  # a task's other properties are not seats'
            try:
                parts.append(_part(value, roles))
            except ValueError as exc:
                refuse(task, line, str(exc))
        if len({p.name for p in parts}) < len(parts):
            refuse(task, task.sourceline, "two parts of one task have the same name")
        if parts:
            found[task.get("id")] = tuple(parts)
    return found


def _declare(process, name: str, found: list[FieldError]) -> Declarations:
    def refuse(node, line, message):
        found.append(FieldError(name, message, file=name, line=line, element=node.get("id")))
    rights: dict[str, list[Grant]] = {}
    seats = {}
    for lane in process.xpath(".//bpmn:lane", namespaces=NS):
        seat = _lane(lane, rights, refuse)
        if seat is not None:
            seats[seat.role] = seat
    case_unit = "starter"
    for prop, value, line in _properties(process):
        if prop not in PROCESS_PROPERTIES:
            continue  # the process's other properties are others' (`input`: data a case starts with)
        if value not in ("starter", "setting") and not (value.startswith("data:") and value[5:]):
            refuse(process, line, "case_unit is starter, setting or data:FIELD")
        else:
            case_unit = value
    return Declarations(seats, {a: tuple(g) for a, g in rights.items()} if rights else None, case_unit,
                        _parts(process, set(seats), refuse))


def declarations(key: str, files: dict[str, str]) -> Declarations:
    """The seat and rights declarations of process `key` (checked at deploy, so nothing is refused here)."""
    for name, text in files.items():
        if name.endswith(".bpmn"):
            for process in etree.fromstring(text.encode("utf-8"), _PARSER).xpath(
                    "bpmn:process[@id=$key]", namespaces=NS, key=key):
                return _declare(process, name, [])
    return Declarations()


def declaration_errors(name: str, root) -> list[FieldError]:
    """What is wrong with the seat and rights declarations of the processes of one BPMN file (deploy check)."""
    errors: list[FieldError] = []
    for process in root.xpath("bpmn:process", namespaces=NS):
        _declare(process, name, errors)
    return errors
