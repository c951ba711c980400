"""Task forms: JSON Schemas in forms/, referenced by a user task's camunda:formKey."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

from .errors import FieldError
from .settings import ROOT

FORMS_DIR = ROOT / "forms"
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


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
    if not key or not _KEY.match(key):
        return None, None
    return _load(key, directory)


def validate(key: str | None, data: dict, directory: Path = FORMS_DIR) -> list[FieldError]:
    """One FieldError per violation of the task's form schema (none if it declares no form)."""
    schema, _ = form(key, directory)
    if schema is None:
        return []
    validator = Draft202012Validator(schema)
    return [FieldError("/data" + "".join(f"/{p}" for p in error.absolute_path), error.message)
            for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))]
