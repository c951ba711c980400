"""What a new version changes: the model elements added, removed and changed, by id (the diagram's layout aside)."""
from __future__ import annotations

from lxml import etree

_DIAGRAM_NS = ("/DI", "/DC", "DMNDI", "/DD/")  # layout (BPMNDI, DMNDI, DC, DI) is not behaviour
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _is_layout(node) -> bool:
    return isinstance(node.tag, str) and any(part in node.tag.split("}")[0] for part in _DIAGRAM_NS)


def _signature(node) -> str:
    """The element's own content: its attributes, text and the children that have no id of their own."""
    parts = [_local(node.tag), repr(sorted(node.attrib.items())), (node.text or "").strip()]
    for child in node:
        if not isinstance(child.tag, str) or _is_layout(child):
            continue
        parts.append(f"#{child.get('id')}" if child.get("id") else _signature(child))
    return "|".join(parts)


def elements(files: dict[str, str]) -> dict[str, dict]:
    """Every identified element of the models (diagram layout left out): id -> type, name and signature."""
    found = {}
    for name, text in files.items():
        root = etree.fromstring(text.encode("utf-8"), _PARSER)
        for node in root.iter():
            if not isinstance(node.tag, str) or node is root or not node.get("id"):
                continue
            if _is_layout(node) or any(_is_layout(a) for a in node.iterancestors()):
                continue
            found[node.get("id")] = {"id": node.get("id"), "type": _local(node.tag), "name": node.get("name"),
                                     "file": name, "signature": _signature(node)}
    return found


def compare(old: dict[str, str] | None, new: dict[str, str]) -> dict[str, list[dict]]:
    """Elements added, removed and changed from `old` models to `new` ones (all added when there is no old)."""
    before, after = elements(old or {}), elements(new)
    out = lambda e: {k: e[k] for k in ("id", "type", "name")}  # noqa: E731
    return {
        "added": [out(after[i]) for i in sorted(after.keys() - before.keys())],
        "removed": [out(before[i]) for i in sorted(before.keys() - after.keys())],
        "changed": [out(after[i]) for i in sorted(after.keys() & before.keys())
                    if after[i]["signature"] != before[i]["signature"]],
    }


def compare_files(old: dict[str, str] | None, new: dict[str, str]) -> dict[str, list[str]]:
    """Files (forms, templates) added, removed and changed, by name."""
    old = old or {}
    return {"added": sorted(new.keys() - old.keys()), "removed": sorted(old.keys() - new.keys()),
            "changed": sorted(n for n in new.keys() & old.keys() if new[n] != old[n])}
