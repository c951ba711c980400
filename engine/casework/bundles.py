"""A deployment bundle: BPMN and DMN models with the forms and document templates they use.

Uploaded files are sorted by suffix: `.bpmn`/`.dmn` models, `NAME.schema.json` and `NAME.ui.json`
forms (a schema with an `$id` is a shared part), `NAME.html` document templates. What the upload
leaves out is taken from the server's forms folder (`processes/` and `forms/` are the default
bundle), and every version stores the forms and templates it uses, so a running case keeps them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, TemplateSyntaxError
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine.casework import forms
from engine.core.errors import FieldError

MODEL_SUFFIXES = (".bpmn", ".dmn")
TEMPLATE_SUFFIX = ".html"


@dataclass
class Bundle:
    models: dict[str, bytes] = field(default_factory=dict)
    forms: dict[str, str] = field(default_factory=dict)  # file name -> JSON text (server parts under delar/)
    templates: dict[str, str] = field(default_factory=dict)  # file name -> Jinja2 text
    errors: list[FieldError] = field(default_factory=list)

    def form_fields(self) -> dict[str, set[str]]:
        """The form keys a formKey may name, each with the data its form sets (top-level fields, scores)."""
        found = {}
        for name, text in self.forms.items():
            if name.endswith(forms.SCHEMA) and "/" not in name and not _is_part(text):
                try:
                    schema = json.loads(text)
                    scores = {s.get("to") for s in schema.get("x-samverka-scores", [])}
                    fields = set(schema.get("properties", {})) | scores
                except (ValueError, AttributeError, TypeError):
                    fields = set()
                found[name[:-len(forms.SCHEMA)]] = fields - {None}
        return found

    def resources_for(self, form_keys: set[str]) -> dict:
        """What one process version stores: the forms it names, every shared part, every template."""
        chosen = {}
        for name, text in self.forms.items():
            base = name.rsplit("/", 1)[-1]
            key = base.split(".", 1)[0]
            if (key in form_keys and "/" not in name) or (base.endswith(forms.SCHEMA) and _is_part(text)):
                chosen[name] = text
        return {"forms": dict(sorted(chosen.items())), "templates": dict(sorted(self.templates.items()))}


def _is_part(text: str) -> bool:
    """A shared part is a schema with an `$id`, referenced from forms, not named by a formKey."""
    try:
        return "$id" in json.loads(text)
    except (ValueError, TypeError):
        return False


def _check_form(name: str, text: str) -> list[FieldError]:
    if not (name.endswith(forms.SCHEMA) or name.endswith(forms.UI)):
        return [FieldError(name, "a form file is NAME.schema.json or NAME.ui.json", file=name)]
    try:
        content = json.loads(text)
    except ValueError as exc:
        return [FieldError(name, f"not JSON: {exc.msg}", file=name, line=exc.lineno)]
    if not isinstance(content, dict):
        return [FieldError(name, "a form file holds a JSON object", file=name)]
    if name.endswith(forms.SCHEMA):
        try:
            Draft202012Validator.check_schema(content)
        except SchemaError as exc:
            return [FieldError(name, f"not a JSON Schema (2020-12): {exc.message}", file=name)]
        if "x-samverka-rules" in content:  # retired: one access model, the seats', checked against the directory
            return [FieldError(name, "x-samverka-rules are retired: declare who may hold a seat on its lane "
                                     "(not_held_with, not_case_person, distinct), checked against the directory",
                               file=name)]
    return []


def _check_template(name: str, text: str) -> list[FieldError]:
    try:
        Environment(autoescape=True).parse(text)
    except TemplateSyntaxError as exc:
        return [FieldError(name, f"template syntax error: {exc.message}", file=name, line=exc.lineno)]
    return []


def split(files: dict[str, bytes], defaults: Path | None = None, prior: dict[str, str] | None = None) -> Bundle:
    """Sort uploaded files into a bundle (checking forms and templates), then fill in what it leaves out:
    from `prior` (the forms and templates of deployed versions it continues), then the server's defaults."""
    bundle = Bundle()
    for name, content in files.items():
        if name.endswith(MODEL_SUFFIXES):
            bundle.models[name] = content
            continue
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            bundle.errors.append(FieldError(name, "not UTF-8 text", file=name))
            continue
        if name.endswith(".json"):
            bundle.errors.extend(_check_form(name, text))
            bundle.forms[name] = text
        elif name.endswith(TEMPLATE_SUFFIX):
            bundle.errors.extend(_check_template(name, text))
            bundle.templates[name] = text
        else:
            bundle.errors.append(FieldError(name, "a bundle holds .bpmn, .dmn, .schema.json, .ui.json and .html "
                                            "files", file=name))
    server = {}
    if defaults is not None and defaults.is_dir():
        server = forms.directory_texts(defaults)
        server.update({p.name: p.read_text() for p in sorted((defaults / "templates").glob(f"*{TEMPLATE_SUFFIX}"))})
    for source in (prior or {}), server:
        present = {n.rsplit("/", 1)[-1] for n in [*bundle.forms, *bundle.templates]}
        for name, text in source.items():
            if name.rsplit("/", 1)[-1] in present:  # an uploaded file replaces a default, part or not
                continue
            (bundle.templates if name.endswith(TEMPLATE_SUFFIX) else bundle.forms)[name] = text
    return bundle


def directory_files(models: Path, forms_dir: Path | None = None) -> dict[str, bytes]:
    """A folder's models with, when given, a forms folder's forms and templates: one upload."""
    found = {p.name: p.read_bytes() for p in sorted(models.iterdir()) if p.suffix in MODEL_SUFFIXES}
    for folder in ([forms_dir] if forms_dir else []) + [models / "forms"]:
        if folder and folder.is_dir():
            found.update({p.name: p.read_bytes() for p in sorted(folder.glob("*.json"))})
            found.update({p.name: p.read_bytes() for p in sorted((folder / "delar").glob("*.schema.json"))})
            found.update({p.name: p.read_bytes() for p in sorted((folder / "templates").glob("*.html"))})
    return found


def content_hash(files: dict[str, str], resources: dict) -> str:
    """What makes two versions the same: their models, forms and templates."""
    digest = json.dumps([sorted(files.items()), resources], ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(digest).hexdigest()
