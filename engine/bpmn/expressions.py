"""Safe expressions: the only code a BPMN or DMN file may carry.

A process owner's upload must never run code on the server, so every condition,
timer, script and decision-table entry is checked against a small whitelist of
syntax when it is deployed (`validate_expression`, `validate_script`) and
evaluated by simpleeval, an AST interpreter, never by Python's eval/exec.
"""
from __future__ import annotations

import ast
import math
import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Callable

import simpleeval

from engine.bpmn.budget import Budget, BudgetExceeded, Meter, size_of
from engine.core.calendar import calendar_from, end_of_day
from engine.core.clock import Clock
from engine.core.settings import get_settings
from engine.core.errors import ExpressionError

MAX_EXPRESSION_LENGTH = 2000
# The expression language BPMN files declare (or leave out): this module's safe subset of Python.
LANGUAGE = "https://samverka.se/expression-language/safe-python"
LANGUAGE_ALIASES = frozenset({LANGUAGE, "python"})  # scriptFormat="python", as the Modeler lets one write it
_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load,
    ast.BoolOp, ast.And, ast.Or,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
    ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.IfExp, ast.Subscript, ast.Slice, ast.Attribute,
    ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Call, ast.keyword,
    ast.JoinedStr, ast.FormattedValue,
)


def _parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def _add_months(value: Any, months: int) -> str:
    d = _parse_date(value)
    month_index = d.month - 1 + int(months)
    year, month = d.year + month_index // 12, month_index % 12 + 1
    days_in_month = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(d.day, days_in_month)).isoformat()


def make_functions(clock: Clock) -> dict[str, Callable]:
    """The whitelist of functions an expression may call; dates are ISO strings as in case data."""
    return {
        "len": len, "min": min, "max": max, "sum": sum, "abs": abs, "round": round,
        "int": int, "float": float, "str": str, "bool": bool, "any": any, "all": all,
        "sorted": sorted, "floor": math.floor, "ceil": math.ceil,
        "today": lambda: clock.now().date().isoformat(),
        "now": lambda: clock.now().isoformat(),
        "parse_date": lambda value: _parse_date(value).isoformat(),
        "add_days": lambda value, days: (_parse_date(value) + timedelta(days=int(days))).isoformat(),
        "add_months": _add_months,
        "days_between": lambda a, b: (_parse_date(b) - _parse_date(a)).days,
        # Deadlines: the end of a day in Swedish time, and school days by the configured school calendar.
        "end_of_day": lambda value: end_of_day(_parse_date(value)).isoformat(),
        "is_school_day": lambda value: _school_calendar().is_school_day(_parse_date(value)),
        "next_school_day": lambda value: _school_calendar().next_school_day(_parse_date(value)).isoformat(),
        "add_school_days": lambda value, days: _school_calendar().add_school_days(_parse_date(value), days).isoformat(),
        "school_days": lambda first, last: _school_calendar().school_days(_parse_date(first), _parse_date(last)),
    }


def _school_calendar():
    return calendar_from(get_settings().school_calendar)


FUNCTION_NAMES = frozenset(make_functions(None))  # type: ignore[arg-type]


def _check_tree(tree: ast.AST, expression: str) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(f"{type(node).__name__} is not allowed in an expression", expression)
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ExpressionError(f"name '{node.id}' is not allowed (leading underscore)", expression)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionError(f"attribute '{node.attr}' is not allowed (leading underscore)", expression)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTION_NAMES:
                called = ast.unparse(node.func)
                raise ExpressionError(
                    f"call to '{called}' is not allowed; allowed functions: {', '.join(sorted(FUNCTION_NAMES))}",
                    expression,
                )
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            raise ExpressionError("bytes literals are not allowed", expression)


@lru_cache(maxsize=4096)
def parse_expression(expression: str) -> ast.Expression:
    """Parse and check one expression; raises SyntaxError or ExpressionError."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters", expression[:80])
    tree = ast.parse(expression.strip(), mode="eval")
    _check_tree(tree, expression)
    return tree


@lru_cache(maxsize=1024)
def parse_script(script: str) -> tuple[tuple[str, str | None, ast.Expression], ...]:
    """Parse a script task's body: only `name = expr` and `name += expr` lines are allowed."""
    if len(script) > MAX_EXPRESSION_LENGTH * 10:
        raise ExpressionError("script too long", script[:80])
    module = ast.parse(script)
    steps = []
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target, op, value = stmt.targets[0].id, None, stmt.value
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            target, op, value = stmt.target.id, type(stmt.op).__name__, stmt.value
        else:
            raise ExpressionError(
                f"line {stmt.lineno}: only assignments 'name = expression' are allowed in scripts "
                f"(found {type(stmt).__name__})",
                ast.get_source_segment(script, stmt) or "",
            )
        if target.startswith("_"):
            raise ExpressionError(f"line {stmt.lineno}: name '{target}' is not allowed", script)
        tree = ast.Expression(body=value)
        _check_tree(tree, ast.unparse(value))
        steps.append((target, op, tree))
    return tuple(steps)


def juel_refusal(text: str) -> str | None:
    """What to say about a JUEL expression (`${dur}`, Camunda 7's language), or None if it is not one."""
    match = _JUEL.match(text or "")
    if not match:
        return None
    return (f"{text.strip()[:80]!r} is JUEL (Camunda 7's expression language), which samverka does not run; "
            f"write the expression itself: {match.group(1).strip()[:80]!r}")


def validate_expression(expression: str) -> None:
    """Raise ExpressionError if `expression` is not in the safe subset."""
    hint = juel_refusal(expression)
    if hint:
        raise ExpressionError(hint, expression)
    try:
        parse_expression(expression)
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.msg}", expression) from None


def validate_script(script: str) -> None:
    """Raise ExpressionError if `script` is not a list of safe assignments."""
    try:
        parse_script(script)
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error on line {exc.lineno}: {exc.msg}", script) from None


def validate_dmn_entry(entry: str) -> None:
    """Check a decision-table cell the way SpiffWorkflow's DMN engine will build it."""
    text = entry.replace("?", "dmninputexpr")
    try:
        parse_expression(text)
    except SyntaxError:
        validate_expression(f"dmninputexpr {text}")


_MAKES = (ast.BinOp, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Call, ast.JoinedStr, ast.FormattedValue)
_FORMAT_NUMBER = re.compile(r"\d+")
_MAX_FORMAT_WIDTH = 1000


def _budgeted_operators(meter: Meter) -> dict:
    """simpleeval's operators, each refusing a result beyond the budget before it computes it."""
    limit = meter.budget.value_bytes

    def add(a, b):
        if isinstance(a, int) and isinstance(b, int):
            meter.check_int(max(a.bit_length(), b.bit_length()) + 1)
        elif hasattr(a, "__len__") and hasattr(b, "__len__"):
            meter.check_size(size_of(a, limit) + size_of(b, limit))
        return a + b

    def sub(a, b):
        if isinstance(a, int) and isinstance(b, int):
            meter.check_int(max(a.bit_length(), b.bit_length()) + 1)
        return a - b

    def mult(a, b):
        if isinstance(a, int) and isinstance(b, int):
            meter.check_int(a.bit_length() + b.bit_length())
        for seq, times in ((a, b), (b, a)):
            if hasattr(seq, "__len__") and isinstance(times, int) and times > 0:
                meter.check_size((len(seq) if isinstance(seq, str) else size_of(seq, limit)) * times)
        return a * b

    def mod(a, b):
        if isinstance(a, str):  # "%0999999999d" % 1 would make the string before any check
            _check_format(a)
        return a % b

    return {**simpleeval.DEFAULT_OPERATORS, ast.Add: add, ast.Sub: sub, ast.Mult: mult, ast.Mod: mod}


def _check_format(spec: str) -> None:
    if any(int(n) > _MAX_FORMAT_WIDTH for n in _FORMAT_NUMBER.findall(spec)):
        raise BudgetExceeded(f"format widths of at most {_MAX_FORMAT_WIDTH}",
                             f"the format {spec[:40]!r} asks for too wide a value")


class _BudgetedEval(simpleeval.EvalWithCompoundTypes):
    """simpleeval's interpreter with a meter on every step and on every value a step makes."""

    def __init__(self, functions: dict, names, meter: Meter):
        super().__init__(operators=_budgeted_operators(meter), functions=functions, names=names)
        self.meter = meter

    def _eval(self, node):
        self.meter.tick()
        result = super()._eval(node)
        if isinstance(node, _MAKES):
            self.meter.check_value(result)
        return result

    def _eval_formattedvalue(self, node):
        if node.format_spec is not None:  # f"{x:>999999999}" would make the string before any check
            _check_format(str(self._eval(node.format_spec)))
        return super()._eval_formattedvalue(node)


class Evaluator:
    """Evaluates checked expressions against plain data, with the whitelisted functions, within a budget."""

    def __init__(self, clock: Clock, budget: Budget | None = None):
        self.functions = make_functions(clock)
        self.budget = budget or Budget.from_settings()

    def _interpreter(self, names) -> _BudgetedEval:
        return _BudgetedEval(self.functions, names, Meter(self.budget))

    def evaluate(self, expression: str, names: dict) -> Any:
        """Evaluate one expression with `names` as its variables."""
        tree = parse_expression(expression)
        interpreter = self._interpreter(names)
        result = interpreter.eval(expression, previously_parsed=tree.body)
        interpreter.meter.check_value(result, self.budget.output_bytes, "output")
        return result

    def execute(self, script: str, data: dict) -> None:
        """Run a script's assignments, updating `data` in place; what it writes is held to the output budget."""
        interpreter = self._interpreter(data)
        targets = []
        for target, op, tree in parse_script(script):
            value = interpreter.eval("", previously_parsed=tree.body)
            if op is not None:
                value = interpreter.operators[getattr(ast, op)](data[target], value)
                interpreter.meter.check_value(value)
            data[target] = value
            targets.append(target)
        written = {t: data[t] for t in targets}
        interpreter.meter.check_value(written, self.budget.output_bytes, "output")
