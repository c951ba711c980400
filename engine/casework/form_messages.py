"""What a caseworker reads when a form's data breaks its schema: Swedish, with Swedish words for slugs.

jsonschema words its errors in English and prints enum values as slugs (`'halso_sjukvard'`); the
people filling in the forms read Swedish. Each validator kind the forms use gets a sentence here;
an unforeseen one keeps the library's text rather than saying nothing.
"""
from __future__ import annotations

from jsonschema.exceptions import ValidationError

from engine.core.words import word

TYPES = {"string": "text", "integer": "ett heltal", "number": "ett tal", "boolean": "ja eller nej (true/false)",
         "object": "ett objekt med fält", "array": "en lista", "null": "tomt (null)"}
FORMATS = {"date": "ett datum (ÅÅÅÅ-MM-DD)", "date-time": "en tidpunkt (ÅÅÅÅ-MM-DDTtt:mm)",
           "email": "en e-postadress", "time": "ett klockslag (tt:mm)"}


def _value(value, quote: bool = True) -> str:
    """A slug as its Swedish word with the slug after it (`hälso- och sjukvård (halso_sjukvard)`)."""
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, str):
        said = word(value)
        return f"{said} ({value})" if said != value else (f"'{value}'" if quote else value)
    return "tomt" if value is None else str(value)


def _types(expected) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    return " eller ".join(TYPES.get(name, name) for name in names)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def swedish(error: ValidationError) -> str:
    """The Swedish sentence for one schema error (the library's own text for a kind not listed)."""
    kind, rule, instance = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = [name for name in rule if isinstance(instance, dict) and name not in instance]
        return "saknas: " + ", ".join(f"'{name}'" for name in missing) + " måste fyllas i"
    if kind == "enum":
        return f"{_value(instance)} går inte: välj en av " + ", ".join(_value(v, quote=False) for v in rule)
    if kind == "const":
        return f"måste vara {_value(rule, quote=False)}"
    if kind == "type":
        return f"måste vara {_types(rule)}"
    if kind == "format":
        return f"måste vara {FORMATS.get(rule, rule)}"
    if kind == "minLength":
        return "får inte vara tomt" if rule == 1 else f"måste ha minst {rule} tecken"
    if kind == "maxLength":
        return f"får ha högst {rule} tecken"
    if kind == "minItems":
        return "måste ha minst en rad" if rule == 1 else f"måste ha minst {_count(rule, 'rad', 'rader')}"
    if kind == "maxItems":
        return f"får ha högst {_count(rule, 'rad', 'rader')}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": "minst", "maximum": "högst", "exclusiveMinimum": "större än",
                 "exclusiveMaximum": "mindre än"}[kind]
        return f"{instance} går inte: måste vara {bound} {rule}"
    if kind in ("additionalProperties", "unevaluatedProperties"):
        known = set((error.schema or {}).get("properties", {}))
        extra = sorted(k for k in instance if k not in known) if isinstance(instance, dict) else []
        return "okänt fält: " + ", ".join(f"'{name}'" for name in extra) if extra else "okända fält"
    if kind == "pattern":
        return f"'{instance}' har fel form (ska följa mönstret {rule})"
    if kind == "uniqueItems":
        return "samma rad står två gånger"
    if kind in ("oneOf", "anyOf"):
        return "passar inget av de tillåtna alternativen"
    if kind == "not":
        return "är inte tillåtet här"
    if kind == "dependentRequired":
        return "; ".join(f"'{field}' kräver " + ", ".join(f"'{n}'" for n in needs)
                         for field, needs in rule.items() if isinstance(instance, dict) and field in instance)
    return error.message
