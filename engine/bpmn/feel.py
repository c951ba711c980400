"""The FEEL subset process owners write in decision tables, translated to the safe expression subset.

Camunda Modeler writes DMN cells in FEEL, the DMN default. No maintained Python FEEL engine
exists, so this module parses the part of FEEL that decision tables use, with a grammar:
- input entries: simple unary tests (`-`, `< 5`, `[10..20)`, `"a","b"`, `not(...)`, `true`,
  `null`, `date("2026-01-01")`, a name);
- output entries and input expressions: literals, names (`barn.alder`), `+ - * /`,
  parentheses and the calls `min max abs floor ceiling`.
Each cell becomes an expression of engine.bpmn.expressions (evaluated by simpleeval, checked
again there), so FEEL never gets its own interpreter. Dates are ISO strings, as in case data.
Anything else raises FeelError naming the column of the text where it stops.
"""
from __future__ import annotations

import keyword
from datetime import date, datetime

from lark import Lark, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from engine.bpmn.expressions import juel_refusal

INPUT = "dmninputexpr"  # the name SpiffWorkflow's DMN engine binds the input value to

_GRAMMAR = r"""
?unary_tests: "-"                                -> any
            | "not" "(" positive_tests ")"      -> negated
            | positive_tests

positive_tests: positive_test ("," positive_test)*
?positive_test: COMPARATOR endpoint              -> comparison
              | start endpoint ".." endpoint end -> interval
              | endpoint                         -> equals

?endpoint: literal | name | "-" NUMBER           -> negative

?expression: sum
?sum: product | sum "+" product -> add | sum "-" product -> sub
?product: factor | product "*" factor -> mul | product "/" factor -> div
?factor: "-" factor -> neg | atom
?atom: literal | name | call | "(" expression ")"
call: NAME "(" [expression ("," expression)*] ")"

?literal: NUMBER -> number
        | STRING -> string
        | "true" -> true
        | "false" -> false
        | "null" -> null
        | TEMPORAL "(" STRING ")" -> temporal

name: NAME ("." NAME)*

TEMPORAL.2: /(date and time|date|time|duration)(?=\s*\()/
COMPARATOR: "<=" | ">=" | "<" | ">"
!start: "[" | "(" | "]"
!end: "]" | ")" | "["
NUMBER: /[0-9]+(\.[0-9]+)?/ | /\.[0-9]+/
STRING: /"([^"\\]|\\.)*"/
NAME: /(?!(true|false|null|not)\b)[^\W\d]\w*/

%ignore /\s+/
"""

FUNCTIONS = {"min": "min", "max": "max", "abs": "abs", "floor": "floor", "ceiling": "ceil"}


class FeelError(ValueError):
    """A cell outside the FEEL subset; `column` is 1-based in the cell's text."""

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message)
        self.column = column


def python_string(value: str) -> str:
    """A Python string literal holding `value` with no quote or `?` characters inside it.

    (SpiffWorkflow's DMN engine rewrites `?` outside quotes by a regular expression that
    pairs any two quote characters; escaping keeps it from misreading a string.)
    """
    out = []
    for ch in value:
        if ch.isascii() and ch.isprintable() and ch not in "\"'\\?":
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _feel_string(token) -> str:
    body, out, i = token[1:-1], [], 0
    escapes = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "'": "'"}
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt == "u" and len(body) >= i + 6:
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            if nxt not in escapes:
                raise FeelError(f"unknown escape \\{nxt} in a string", token.column + i + 1)
            out.append(escapes[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _python_number(token) -> str:
    """A FEEL number as Python writes it: FEEL allows leading zeros (`007` is 7) and a bare fraction (`.5`)."""
    whole, _, fraction = str(token).partition(".")
    whole = whole.lstrip("0") or "0"
    return f"{whole}.{fraction}" if fraction else whole


@v_args(inline=True)
class _ToPython(Transformer):
    """FEEL tree -> (kind, python text); kind says how an input is tested against it."""

    def number(self, token):
        return ("value", _python_number(token))

    def negative(self, token):
        return ("value", f"-{_python_number(token)}")

    def string(self, token):
        return ("value", python_string(_feel_string(token)))

    def true(self):
        return ("bool", "True")

    def false(self):
        return ("bool", "False")

    def null(self):
        return ("null", "None")

    def temporal(self, kind, token):
        text = _feel_string(token)
        try:
            if kind == "date":
                date.fromisoformat(text)
            elif kind == "date and time":
                datetime.fromisoformat(text.replace("Z", "+00:00"))
            elif kind == "time":
                datetime.fromisoformat(f"2000-01-01T{text.replace('Z', '+00:00')}")
        except ValueError:
            raise FeelError(f"{kind}({text!r}) is not a valid ISO 8601 {kind}", token.column) from None
        return ("value", python_string(text))

    def name(self, *parts):
        for part in parts:
            if str(part) in ("True", "False", "None"):
                raise FeelError(f"{part} is Python; FEEL writes true, false and null in lower case", part.column)
            if keyword.iskeyword(str(part)) or not str(part).isidentifier() or str(part).startswith("_"):
                raise FeelError(f"the name {str(part)!r} cannot be used here", part.column)
        head, *rest = (str(p) for p in parts)
        return ("value", head + "".join(f"[{python_string(p)}]" for p in rest))

    def call(self, function, *args):
        if str(function) not in FUNCTIONS:
            raise FeelError(f"function {function}() is not in the subset; use one of "
                            f"{', '.join(sorted(FUNCTIONS))}", function.column)
        args = [a for a in args if a is not None]
        return ("value", f"{FUNCTIONS[str(function)]}({', '.join(a[1] for a in args)})")

    def _binary(op):  # noqa: N805 - a factory used in the class body
        return lambda self, a, b: ("value", f"({a[1]} {op} {b[1]})")

    add, sub, mul, div = _binary("+"), _binary("-"), _binary("*"), _binary("/")

    def neg(self, a):
        return ("value", f"(-{a[1]})")

    # unary tests: each yields (is a comparison?, is the null test?, python test of INPUT)
    def comparison(self, op, endpoint):
        return (True, False, f"({INPUT} is not None and {INPUT} {op} {endpoint[1]})")

    def start(self, token):
        return "<=" if token == "[" else "<"

    def end(self, token):
        return "<=" if token == "]" else "<"

    def interval(self, low_op, low, high, high_op):
        return (True, False, f"({INPUT} is not None and {low[1]} {low_op} {INPUT} {high_op} {high[1]})")

    def equals(self, endpoint):
        kind, text = endpoint
        if kind in ("bool", "null"):
            return (False, kind == "null", f"({INPUT} is {text})")
        return (False, False, f"({INPUT} == {text})")

    def positive_tests(self, *tests):
        return tests

    def any(self):
        return "-"

    def negated(self, tests):
        disjunction = " or ".join(t[2] for t in tests)
        # FEEL: for a null input a comparison is null, and not(null) matches nothing
        when_null = not any(t[0] or t[1] for t in tests)
        return f"(not ({disjunction}) if {INPUT} is not None else {when_null})"


_TESTS = Lark(_GRAMMAR, start="unary_tests", parser="lalr")
_EXPRESSION = Lark(_GRAMMAR, start="expression", parser="lalr")


def _parse(parser: Lark, text: str):
    hint = juel_refusal(text)
    if hint:
        raise FeelError(hint, 1)
    try:
        return _ToPython().transform(parser.parse(text))
    except UnexpectedInput as exc:
        at_end = getattr(getattr(exc, "token", None), "type", None) == "$END"
        found = text[exc.pos_in_stream:exc.pos_in_stream + 12] if exc.pos_in_stream is not None and not at_end else ""
        where = f"at {found!r}" if found else "at the end"
        raise FeelError(f"not in the FEEL subset: unexpected text {where}", exc.column) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, FeelError):
            raise exc.orig_exc from None
        raise FeelError(f"not in the FEEL subset: {exc.orig_exc}") from None
    except LarkError as exc:
        raise FeelError(f"not in the FEEL subset: {exc}") from None


def unary_tests(text: str) -> str:
    """An input entry as a test of `dmninputexpr` in the safe subset (`-` stays `-`: any value)."""
    result = _parse(_TESTS, text)
    if isinstance(result, str):
        return result
    return " or ".join(t[2] for t in result)


def expression(text: str) -> str:
    """An output entry or input expression (a FEEL literal or simple expression) in the safe subset."""
    return _parse(_EXPRESSION, text)[1]
