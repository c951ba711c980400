"""SpiffWorkflow's script engine, replaced by one that only evaluates checked safe expressions."""
from __future__ import annotations

from collections import ChainMap

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.bpmn.budget import Budget
from engine.bpmn.expressions import Evaluator, parse_expression
from engine.core.clock import Clock


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """Task data as variables, whitelisted functions, no eval/exec."""

    def __init__(self, evaluator: Evaluator):
        super().__init__({})
        self.evaluator = evaluator

    def evaluate(self, expression, context, external_context=None):
        names = ChainMap(external_context, context) if external_context else context
        return self.evaluator.evaluate(expression, names)

    def execute(self, script, context, external_context=None):
        self.evaluator.execute(script, context)
        return True

    def call_service(self, context, **kwargs):
        raise NotImplementedError("service tasks are not supported")


class SafeScriptEngine(PythonScriptEngine):
    """The engine's script engine; it also carries the engine clock and the budget to timer events."""

    def __init__(self, clock: Clock, budget: Budget | None = None):
        self.budget = budget or Budget.from_settings()
        super().__init__(environment=SafeEnvironment(Evaluator(clock, self.budget)))
        self.clock = clock

    def validate(self, expression):
        parse_expression(expression)
