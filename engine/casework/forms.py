"""Task forms: JSON Schemas in forms/, referenced by a user task's camunda:formKey.

Besides plain JSON Schema (draft 2020-12) a form may declare, at its top level:
- `x-samverka-rules`: role and people rules that need the case's data, each with the
  message users see (`not_one_of`, `all_different`, `differs_from_case`);
- `x-samverka-scores`: instruments to score (SDQ, ORS, SRS) and where to put the result.
Shared parts live in forms/delar/ and are referenced by their `$id`.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from engine.bpmn.parser import FORM_KEY
from engine.casework import scoring
from engine.core.errors import FieldError
from engine.core.settings import ROOT

FORMS_DIR = ROOT / "forms"
_MISSING = object()


@lru_cache(maxsize=16)
def _registry(directory: Path) -> Registry:
    resources = []
    for path in sorted((directory / "delar").glob("*.schema.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@lru_cache(maxsize=256)
def _load(key: str, directory: Path) -> tuple[dict | None, dict | None]:
    schema_path, ui_path = directory / f"{key}.schema.json", directory / f"{key}.ui.json"
    schema = json.loads(schema_path.read_text()) if schema_path.is_file() else None
    ui = json.loads(ui_path.read_text()) if ui_path.is_file() else None
    if schema is not None:
        Draft202012Validator.check_schema(schema)
    return schema, ui


def form(key: str | None, directory: Path = FORMS_DIR) -> tuple[dict | None, dict | None]:
    """(JSON Schema, UI schema) for a form key; (None, None) when there is no such form."""
    if not key or not FORM_KEY.match(key):
        return None, None
    return _load(key, directory)


def _pointer(data, pointer: str):
    """The value at a JSON pointer such as /kontaktperson/befattning, or _MISSING."""
    for part in pointer.strip("/").split("/"):
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _rule_errors(rule: dict, data: dict, case_data: dict) -> list[FieldError]:
    kind, message = rule["rule"], rule["message"]
    if kind == "not_one_of":
        value = _pointer(data, rule["field"])
        return [FieldError("/data" + rule["field"], message)] if value in rule["values"] else []
    if kind == "all_different":
        values = [(f, _pointer(data, f)) for f in rule["fields"]]
        seen: set = set()
        errors = []
        for pointer, value in values:
            if value is _MISSING:
                continue
            folded = value.casefold() if isinstance(value, str) else value
            if folded in seen:
                errors.append(FieldError("/data" + pointer, message))
            seen.add(folded)
        return errors
    if kind == "differs_from_case":
        other = _pointer(case_data, rule["case_field"])
        if other is _MISSING:
            return []
        fold = lambda v: v.casefold() if isinstance(v, str) else v  # noqa: E731
        return [FieldError("/data" + pointer, message) for pointer in rule["fields"]
                if (value := _pointer(data, pointer)) is not _MISSING and fold(value) == fold(other)]
    raise ValueError(f"unknown form rule {kind}")


def validate(key: str | None, data: dict, directory: Path = FORMS_DIR, case_data: dict | None = None) -> list[FieldError]:
    """One FieldError per violation of the task's form schema, then of its rules (none if no form)."""
    schema, _ = form(key, directory)
    if schema is None:
        return []
    validator = Draft202012Validator(schema, registry=_registry(directory),
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [FieldError("/data" + "".join(f"/{p}" for p in error.absolute_path), error.message)
              for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))]
    if errors:
        return errors
    return [e for rule in schema.get("x-samverka-rules", []) for e in _rule_errors(rule, data, case_data or {})]


def scores(key: str | None, data: dict, settings: scoring.ScoringSettings, directory: Path = FORMS_DIR) -> dict:
    """The scores a (valid) form's data yields, keyed where the form says to put them."""
    schema, _ = form(key, directory)
    if schema is None:
        return {}
    return {spec["to"]: scoring.INSTRUMENTS[spec["instrument"]](data[spec["from"]], settings)
            for spec in schema.get("x-samverka-scores", []) if spec["from"] in data}
