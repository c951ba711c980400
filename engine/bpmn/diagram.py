"""BPMN diagrams: lay out a model that has no diagram (BPMNDI), and draw a diagram as SVG.

`layout` gives every element a place so the file opens in bpmn.io / Camunda Modeler:
columns by the longest path from the start, one row band per lane, subprocesses collapsed
with their own drill-down plane. A process owner then moves things by hand in the modeler.
`svg` draws the main plane of a laid-out file (for the README and for people without a modeler).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True)

COLUMN, ROW, LANE_HEADER, MARGIN = 160, 130, 30, 40
ACTIVITIES = {"task", "userTask", "scriptTask", "businessRuleTask", "manualTask", "sendTask", "receiveTask",
              "subProcess", "callActivity"}


def _local(node) -> str:
    return etree.QName(node).localname


def _size(node) -> tuple[int, int]:
    kind = _local(node)
    if kind in ACTIVITIES:
        return 110, 80
    if kind.endswith("Gateway"):
        return 50, 50
    return 36, 36


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _ranks(nodes: list, flows: list, boundaries: dict) -> dict:
    """Column per node: the longest forward path from a start, loops (back edges) ignored."""
    succ: dict[str, list[str]] = {}
    for f in flows:
        succ.setdefault(f.get("sourceRef"), []).append(f.get("targetRef"))
    for boundary_id, attached in boundaries.items():  # a boundary event hangs off its activity
        succ.setdefault(attached, []).append(boundary_id)
    ids = [n.get("id") for n in nodes] + list(boundaries)
    incoming = {t for targets in succ.values() for t in targets}
    starts = [i for i in ids if i not in incoming and i not in boundaries]
    back, state = set(), {}

    def visit(node_id):  # iterative DFS marking back edges
        stack = [(node_id, iter(succ.get(node_id, [])))]
        state[node_id] = "open"
        while stack:
            current, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[current] = "done"
                stack.pop()
            elif state.get(child) == "open":
                back.add((current, child))
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(succ.get(child, []))))

    for start in starts:
        if start not in state:
            visit(start)
    rank = {s: 0 for s in starts}
    order = [i for i in ids if i in state]
    for _ in range(len(order)):  # relax forward edges until stable (graphs here are small)
        changed = False
        for source in order:
            for target in succ.get(source, []):
                if (source, target) in back or source not in rank:
                    continue
                step = 0 if target in boundaries else 1
                if rank.get(target, -1) < rank[source] + step:
                    rank[target], changed = rank[source] + step, True
        if not changed:
            break
    last = max(rank.values(), default=0)
    for i in ids:  # event subprocesses and anything unconnected go after the rest
        rank.setdefault(i, last + 1)
    return rank


def _layout_container(container, lanes: list[tuple[str, list[str]]], x0: float, y0: float):
    """Boxes for the container's nodes and waypoints for its flows; lanes are (lane id, node ids)."""
    nodes = [n for n in container if isinstance(n.tag, str) and n.get("id") and _local(n) != "boundaryEvent"
             and _local(n) not in ("sequenceFlow", "laneSet", "textAnnotation", "association", "dataObject")
             and not _local(n).endswith("EventDefinition")]
    boundaries = {b.get("id"): b.get("attachedToRef") for b in container if isinstance(b.tag, str)
                  and _local(b) == "boundaryEvent"}
    flows = [f for f in container if isinstance(f.tag, str) and _local(f) == "sequenceFlow"]
    rank = _ranks(nodes, flows, boundaries)
    lane_of = {node_id: index for index, (_, members) in enumerate(lanes) for node_id in members}
    slots: dict[tuple[int, int], int] = {}
    slot = {}
    for n in sorted(nodes, key=lambda n: rank[n.get("id")]):
        key = (lane_of.get(n.get("id"), 0), rank[n.get("id")])
        slot[n.get("id")], slots[key] = slots.get(key, 0), slots.get(key, 0) + 1
    lane_count = max(len(lanes), 1)
    rows = [max([count for (lane, _), count in slots.items() if lane == index] or [1]) for index in range(lane_count)]
    lane_top = [y0 + sum(rows[:index]) * ROW for index in range(lane_count)]
    boxes: dict[str, Box] = {}
    for n in nodes:
        w, h = _size(n)
        node_id = n.get("id")
        cx = x0 + rank[node_id] * COLUMN + 55
        cy = lane_top[lane_of.get(node_id, 0)] + slot[node_id] * ROW + ROW / 2
        boxes[node_id] = Box(cx - w / 2, cy - h / 2, w, h)
    per_activity: dict[str, int] = {}
    for boundary_id, attached in boundaries.items():
        host = boxes[attached]
        index = per_activity[attached] = per_activity.get(attached, -1) + 1
        boxes[boundary_id] = Box(host.x + host.w - 46 - index * 40, host.y + host.h - 18, 36, 36)
    edges = {f.get("id"): _route(boxes[f.get("sourceRef")], boxes[f.get("targetRef")],
                                 f.get("sourceRef") in boundaries) for f in flows}
    width = (max(rank.values(), default=0) + 1) * COLUMN
    return boxes, edges, rows, lane_top, width


def _route(s: Box, t: Box, from_boundary: bool) -> list[tuple[float, float]]:
    if from_boundary:
        return [(s.cx, s.y + s.h), (s.cx, t.cy), (t.x, t.cy)] if t.x > s.cx else [(s.cx, s.y + s.h), (t.cx, t.y)]
    if t.x > s.x + s.w:
        if abs(s.cy - t.cy) < 1:
            return [(s.x + s.w, s.cy), (t.x, t.cy)]
        mid = (s.x + s.w + t.x) / 2
        return [(s.x + s.w, s.cy), (mid, s.cy), (mid, t.cy), (t.x, t.cy)]
    below = max(s.y + s.h, t.y + t.h) + 22
    return [(s.cx, s.y + s.h), (s.cx, below), (t.cx, below), (t.cx, t.y + t.h)]


def _shape(plane, element_id: str, box: Box, **attributes) -> None:
    shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{element_id}_di", bpmnElement=element_id,
                             **attributes)
    etree.SubElement(shape, f"{{{DC}}}Bounds", x=f"{box.x:g}", y=f"{box.y:g}", width=f"{box.w:g}",
                     height=f"{box.h:g}")


def _plane(root, element_id: str, container, lanes, with_lanes: bool, participant: str | None):
    diagram = etree.SubElement(root, f"{{{BPMNDI}}}BPMNDiagram", id=f"Diagram_{element_id}")
    plane = etree.SubElement(diagram, f"{{{BPMNDI}}}BPMNPlane", id=f"Plane_{element_id}", bpmnElement=element_id)
    left = 160 + (LANE_HEADER * 2 if with_lanes else 0)
    boxes, edges, rows, lane_top, width = _layout_container(container, lanes, left + MARGIN, 80)
    if with_lanes and participant:
        total = sum(rows) * ROW
        _shape(plane, participant, Box(160, 80, width + 2 * MARGIN + 2 * LANE_HEADER, total), isHorizontal="true")
        for (lane_id, _), top, count in zip(lanes, lane_top, rows):
            _shape(plane, lane_id, Box(160 + LANE_HEADER, top, width + 2 * MARGIN + LANE_HEADER, count * ROW),
                   isHorizontal="true")
    for node in container.iter():
        node_id = node.get("id") if isinstance(node.tag, str) else None
        if node_id in boxes:
            extra = {}
            if _local(node) == "exclusiveGateway":
                extra["isMarkerVisible"] = "true"
            if _local(node) == "subProcess":
                extra["isExpanded"] = "false"
            _shape(plane, node_id, boxes[node_id], **extra)
    for flow_id, points in edges.items():
        edge = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{flow_id}_di", bpmnElement=flow_id)
        for x, y in points:
            etree.SubElement(edge, f"{{{DI}}}waypoint", x=f"{x:g}", y=f"{y:g}")


def layout(content: bytes) -> bytes:
    """The model with a fresh diagram: one plane for the pool, one drill-down plane per subprocess."""
    root = etree.fromstring(content, _PARSER)
    for old in root.findall("bpmndi:BPMNDiagram", NS):
        root.remove(old)
    process = root.find("bpmn:process", NS)
    participant = root.find("bpmn:collaboration/bpmn:participant", NS)
    lanes = [(lane.get("id"), [ref.text for ref in lane.findall("bpmn:flowNodeRef", NS)])
             for lane in process.findall("bpmn:laneSet/bpmn:lane", NS)]
    top = participant.getparent().get("id") if participant is not None else process.get("id")
    _plane(root, top, process, lanes, bool(lanes), participant.get("id") if participant is not None else None)
    for sub in process.iter(f"{{{BPMN}}}subProcess"):
        _plane(root, sub.get("id"), sub, [], False, None)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def _text(x: float, y: float, lines: list[str], size: int = 11, anchor: str = "middle") -> str:
    top = y - (len(lines) - 1) * (size + 2) / 2
    spans = "".join(f'<tspan x="{x:g}" y="{top + i * (size + 2):g}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return f'<text font-size="{size}" text-anchor="{anchor}" dominant-baseline="middle">{spans}</text>'


def _icon(kinds: set[str], box: Box) -> str:
    """The event's marker drawn with lines, so it shows in any font: clock, envelope or filled circle."""
    cx, cy = box.cx, box.cy
    if "timerEventDefinition" in kinds:
        return (f'<circle cx="{cx:g}" cy="{cy:g}" r="9" fill="#fff" stroke="#333"/>'
                f'<path d="M {cx:g} {cy - 7:g} L {cx:g} {cy:g} L {cx + 5:g} {cy + 2:g}" fill="none" stroke="#333"/>')
    if "messageEventDefinition" in kinds:
        return (f'<rect x="{cx - 8:g}" y="{cy - 5.5:g}" width="16" height="11" fill="#fff" stroke="#333"/>'
                f'<path d="M {cx - 8:g} {cy - 5.5:g} L {cx:g} {cy + 1:g} L {cx + 8:g} {cy - 5.5:g}" fill="none" '
                f'stroke="#333"/>')
    if "terminateEventDefinition" in kinds:
        return f'<circle cx="{cx:g}" cy="{cy:g}" r="10" fill="#333"/>'
    return ""


def svg(content: bytes) -> str:
    """The main plane of a laid-out model as a standalone SVG."""
    root = etree.fromstring(content, _PARSER)
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    elements = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    parts, right, bottom = [], 0.0, 0.0
    for shape in plane.findall("bpmndi:BPMNShape", NS):
        b = shape.find("dc:Bounds", NS)
        box = Box(*(float(b.get(k)) for k in ("x", "y", "width", "height")))
        right, bottom = max(right, box.x + box.w), max(bottom, box.y + box.h)
        element = elements[shape.get("bpmnElement")]
        kind, name = _local(element), element.get("name") or ""
        if kind in ("participant", "lane"):
            fill = "#fff" if kind == "participant" else "none"
            parts.append(f'<rect x="{box.x:g}" y="{box.y:g}" width="{box.w:g}" height="{box.h:g}" fill="{fill}" '
                         f'stroke="#333"/>')
            cx, cy = box.x + LANE_HEADER / 2, box.cy
            parts.append(f'<g transform="rotate(-90 {cx:g} {cy:g})">{_text(cx, cy, _wrap(name, 40), 12)}</g>')
        elif kind in ACTIVITIES:
            dashed = ' stroke-dasharray="4 3"' if element.get("triggeredByEvent") == "true" else ""
            parts.append(f'<rect x="{box.x:g}" y="{box.y:g}" width="{box.w:g}" height="{box.h:g}" rx="10" '
                         f'fill="#fffbe6" stroke="#333"{dashed}/>')
            parts.append(_text(box.cx, box.cy - 4, _wrap(name, 18)[:4], 10))
            if kind == "subProcess":
                parts.append(f'<rect x="{box.cx - 7:g}" y="{box.y + box.h - 16:g}" width="14" height="14" fill="none" '
                             f'stroke="#333"/>{_text(box.cx, box.y + box.h - 9, ["+"], 12)}')
        elif kind.endswith("Gateway"):
            points = f"{box.cx:g},{box.y:g} {box.x + box.w:g},{box.cy:g} {box.cx:g},{box.y + box.h:g} {box.x:g},{box.cy:g}"
            marker = {"parallelGateway": "+", "eventBasedGateway": "○"}.get(kind, "×")
            parts.append(f'<polygon points="{points}" fill="#fff" stroke="#333"/>{_text(box.cx, box.cy, [marker], 16)}')
            parts.append(_text(box.cx, box.y - 14, _wrap(name, 22), 10))
        else:
            width = 3 if kind == "endEvent" else 1
            ring = f'<circle cx="{box.cx:g}" cy="{box.cy:g}" r="{box.w / 2 - 3:g}" fill="none" stroke="#333"/>' \
                if kind in ("boundaryEvent", "intermediateCatchEvent", "intermediateThrowEvent") else ""
            kinds = {_local(d) for d in element if isinstance(d.tag, str) and _local(d).endswith("EventDefinition")}
            parts.append(f'<circle cx="{box.cx:g}" cy="{box.cy:g}" r="{box.w / 2:g}" fill="#fff" stroke="#333" '
                         f'stroke-width="{width}"/>{ring}{_icon(kinds, box)}')
            parts.append(_text(box.cx, box.y + box.h + 14, _wrap(name, 22), 10))
    for edge in plane.findall("bpmndi:BPMNEdge", NS):
        points = " ".join(f'{float(w.get("x")):g},{float(w.get("y")):g}' for w in edge.findall("di:waypoint", NS))
        parts.append(f'<polyline points="{points}" fill="none" stroke="#333" marker-end="url(#pil)"/>')
        name = elements[edge.get("bpmnElement")].get("name")
        if name:
            first = edge.find("di:waypoint", NS)
            parts.append(_text(float(first.get("x")) + 6, float(first.get("y")) - 8, [name], 9, "start"))
    width, height = right + 40, bottom + 60
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
            f'viewBox="0 0 {width:g} {height:g}" font-family="Arial, sans-serif">'
            '<defs><marker id="pil" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>'
            f'<rect width="100%" height="100%" fill="#fff"/>{"".join(parts)}</svg>\n')
