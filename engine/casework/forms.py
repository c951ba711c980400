"""Task forms: JSON Schemas in forms/, referenced by a user task's camunda:formKey.

Besides plain JSON Schema (draft 2020-12) a form may declare, at its top level:
- `x-samverka-scores`: instruments to score (SDQ, ORS, SRS) and where to put the result.
Shared parts live in forms/delar/ and are referenced by their `$id`.
Forms are deployed with the model (engine.casework.bundles): a case uses its version's forms.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from engine.bpmn.references import FORM_KEY
from engine.casework import scoring
from engine.casework.form_messages import swedish
from engine.core.errors import FieldError
from engine.core.settings import DATA

FORMS_DIR = DATA / "forms"
SCHEMA, UI = ".schema.json", ".ui.json"


@dataclass(frozen=True)
class FormSet:
    """The forms one process version uses: schemas and UI schemas by form key, shared parts by `$id`."""

    schemas: dict = field(default_factory=dict)
    uis: dict = field(default_factory=dict)
    registry: Registry = field(default_factory=Registry)

    def form(self, key: str | None) -> tuple[dict | None, dict | None]:
        """(JSON Schema, UI schema) for a form key; (None, None) when there is no such form."""
        if not key or not FORM_KEY.match(key):
            return None, None
        return self.schemas.get(key), self.uis.get(key)


def from_texts(files: dict[str, str]) -> FormSet:
    """A FormSet from file name -> JSON text (`NAME.schema.json`, `NAME.ui.json`; parts carry an `$id`)."""
    schemas, uis, parts = {}, {}, []
    for name, text in sorted(files.items()):
        content = json.loads(text)
        base = name.rsplit("/", 1)[-1]
        if base.endswith(SCHEMA):
            if "$id" in content:
                parts.append((content["$id"], Resource.from_contents(content)))
            if "/" not in name:  # parts from a forms folder's delar/ are not forms of their own
                schemas[base[:-len(SCHEMA)]] = content
        elif base.endswith(UI):
            uis[base[:-len(UI)]] = content
    return FormSet(schemas, uis, Registry().with_resources(parts))


def directory_texts(directory: Path) -> dict[str, str]:
    """A forms folder's files as `from_texts` takes them (delar/ under that prefix)."""
    found = {p.name: p.read_text() for p in sorted(directory.glob("*.json"))}
    found.update({f"delar/{p.name}": p.read_text() for p in sorted((directory / "delar").glob("*.schema.json"))})
    return found


@lru_cache(maxsize=16)
def from_directory(directory: Path) -> FormSet:
    """The forms of a folder on the server (for versions deployed before forms came with the model)."""
    return from_texts(directory_texts(directory))


_BY_VERSION: dict[str, FormSet] = {}


def for_version(content_hash: str, files: dict[str, str] | None, fallback: Path) -> FormSet:
    """The forms deployed with a process version (cached by the version's content hash, which covers them)."""
    if files is None:
        return from_directory(fallback)
    found = _BY_VERSION.get(content_hash)
    if found is None:
        if len(_BY_VERSION) > 256:
            _BY_VERSION.clear()
        found = _BY_VERSION[content_hash] = from_texts(files)
    return found


def validate(forms: FormSet, key: str | None, data: dict) -> list[FieldError]:
    """One FieldError per violation of the task's form schema (none if no form). Rules about the people a form
    names are the seats' (engine.core.seats), checked against the directory, not the form's."""
    schema, _ = forms.form(key)
    if schema is None:
        return []
    validator = Draft202012Validator(schema, registry=forms.registry,
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [FieldError("/data" + "".join(f"/{p}" for p in error.absolute_path), swedish(error))
            for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))]


def scores(forms: FormSet, key: str | None, data: dict, settings: scoring.ScoringSettings) -> dict:
    """The scores a (valid) form's data yields, keyed where the form says to put them."""
    schema, _ = forms.form(key)
    if schema is None:
        return {}
    return {spec["to"]: scoring.INSTRUMENTS[spec["instrument"]](data[spec["from"]], settings)
            for spec in schema.get("x-samverka-scores", []) if spec["from"] in data}
