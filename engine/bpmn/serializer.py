"""Workflow state <-> JSON, without the spec: specs come from the per-version cache.

The stock converter writes the whole parsed spec into every saved state and parses it
back on every load; here the state holds only the runtime (tasks, data, events) and is
restored against the cached spec of the case's (process key, version).
"""
from __future__ import annotations

import json
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as LIBRARY_SERIALIZER_VERSION
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

from engine.bpmn.timer_events import CLOCK_TIMERS

# Stored beside each case's state so a library upgrade can migrate it.
SERIALIZER_VERSION = LIBRARY_SERIALIZER_VERSION


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Serializes a BpmnWorkflow's runtime only; `spec` and `subprocess_specs` are passed in on restore."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _config() -> dict:
    config = dict(CAMUNDA_CONFIG)
    config[BpmnWorkflow] = SpeclessWorkflowConverter
    for clock_class in CLOCK_TIMERS.values():
        config[clock_class] = TimerConditionalEventDefinitionConverter
    return config


_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config()), version=SERIALIZER_VERSION)


def dumps(workflow: BpmnWorkflow) -> str:
    """The workflow's runtime state as JSON."""
    return _serializer.serialize_json(workflow)


def loads(state: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
    """Restore a workflow from `dumps` output against its cached spec."""
    dct = json.loads(state)
    _serializer.migrate(dct)
    workflow = _serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    return workflow


def registry():
    """The serializer's converter registry (SpiffWorkflow's diff compares specs through it)."""
    return _serializer.registry
