"""Parsed specs, cached per deployed version: parsing happens once, not per request."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition

from engine.bpmn.lanes import declarations
from engine.bpmn.parser import load_spec, start_form_key
from engine.core.roles import role_id
from engine.core.seats import NONE, Declarations


def candidate_group(lane: str | None) -> str | None:
    """The role a lane stands for (see engine.roles)."""
    return role_id(lane)


@dataclass(frozen=True)
class CachedSpec:
    spec: object
    subprocess_specs: dict
    candidate_groups: frozenset[str]
    messages: dict = field(default_factory=dict)  # message name -> a catching event definition for it
    interrupting: frozenset[str] = frozenset()  # ids of interrupting event subprocesses
    start_form: str | None = None  # the form start data must match; None: a case starts with no data
    form_keys: dict = field(default_factory=dict)  # user task id -> its formKey
    declared: Declarations = NONE  # the lanes' seats and the roles' rights (engine.core.seats)


class SpecCache:
    """A bounded LRU of parsed specs keyed by process version id (versions never change)."""

    def __init__(self, size: int = 256):
        self._size = size
        self._items: OrderedDict[int, CachedSpec] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version_id: int, key: str, files: dict[str, str], dmn_language: str = "feel") -> CachedSpec:
        with self._lock:
            cached = self._items.get(version_id)
            if cached is not None:
                self._items.move_to_end(version_id)
                return cached
        spec, subprocess_specs = load_spec(key, files, dmn_language)
        specs = [spec, *subprocess_specs.values()]
        task_specs = [t for s in specs for t in s.task_specs.values()]
        groups = frozenset(filter(None, (candidate_group(getattr(t, "lane", None)) for t in task_specs)))
        definitions = [getattr(t, "event_definition", None) for t in task_specs]
        definitions += [d for m in definitions if isinstance(m, MultipleEventDefinition) for d in m.event_definitions]
        messages = {d.name: d for d in definitions if isinstance(d, MessageEventDefinition)}
        interrupting = frozenset(key for key, sub in subprocess_specs.items()
                                 if any(getattr(t, "interrupting", False) for t in sub.task_specs.values()))
        form_keys = {t.bpmn_id: t.form.key for t in task_specs if getattr(getattr(t, "form", None), "key", None)}
        cached = CachedSpec(spec, subprocess_specs, groups, messages, interrupting, start_form_key(key, files),
                            form_keys, declarations(key, files))
        with self._lock:
            self._items[version_id] = cached
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return cached
