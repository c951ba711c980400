"""The OpenAPI document as the API behaves: problems under `application/problem+json` (the media type they
are sent with), the error statuses each operation can answer, and links between operations.

Every operation's id is its route function's name (set in api.app), so renaming a route function is an
API change. The error statuses follow from what the request path goes through:
- 401 (no or bad credentials), 403 (not allowed) and 429 (rate limit, Retry-After) for every operation
  that needs a credential;
- 404 for every operation with path parameters, and the few others that look something up (`_FINDS`);
- 400 (a body that cannot be parsed), 413 (body too large) and 422 (input breaks a rule) for every
  operation with a body; 422 for any with parameters or a query (an unknown query parameter is refused);
- 409 for every write (a concurrent change, a state that does not allow it) and `_CONFLICTS`.
"""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .schemas import Problem

MEDIA_TYPE = "application/problem+json"
_TITLES = {400: "Bad request: the body is not JSON (or not multipart) at all", 401: "Unauthorized: no or bad credentials", 403: "Forbidden: not allowed to do this",
           404: "Not found (or not visible to the caller)", 409: "Conflict with the current state or a "
           "concurrent change", 413: "Payload too large", 422: "Invalid input: the problem names each field",
           429: "Too many requests: retry after `Retry-After` seconds"}
_HEADERS = {401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
            429: {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"},
                                  "description": "Seconds until the caller may try again"}}}
# Operations without path parameters that answer 404 for something named in their input.
# The training clock is 404 on a server that has none (the default, and always in production).
_FINDS = {"start_case", "send_correlated_message", "list_tasks", "import_absence", "training_clock",
          "advance_training_clock"}
# Reads that answer 409 for a state (a document the case has not recorded yet).
_CONFLICTS = {"case_document"}

_CASE = "$response.body#/id"
_BODY = "requestBody"  # a link's request body, beside its parameters
_FIRST_ITEM = "$response.body#/items/0/id"


def _links() -> dict[tuple[str, str], dict[str, dict]]:
    """(operation, status) -> links to the operations its answer leads to, for clients and stateful tests."""
    on_case = ("get_case", "cancel_case", "send_message", "case_history", "list_participants", "add_participant",
               "access_log", "case_timers")
    on_task = ("get_task", "claim_task", "unclaim_task", "complete_task")
    case_links = {op: {"case_id": _CASE} for op in on_case}
    return {
        ("start_case", "201"): {**case_links, **{op: {"task_id": "$response.body#/open_tasks/0/id"}
                                                for op in on_task}},
        ("get_case", "200"): {**case_links, **{op: {"task_id": "$response.body#/open_tasks/0/id"}
                                              for op in on_task}},
        ("list_cases", "200"): {op: {"case_id": _FIRST_ITEM} for op in on_case},
        ("list_tasks", "200"): {op: {"task_id": _FIRST_ITEM} for op in on_task},
        ("get_task", "200"): {op: {"task_id": "$response.body#/id"} for op in on_task},
        ("claim_task", "200"): {op: {"task_id": "$response.body#/id"} for op in on_task},
        ("add_participant", "201"): {"remove_participant": {
            "case_id": "$request.path.case_id", "participant_id": "$response.body#/id"}},
        ("create_webhook", "201"): {op: {"webhook_id": "$response.body#/id"}
                                    for op in ("get_webhook", "delete_webhook", "webhook_failures")},
        ("create_api_key", "201"): {"revoke_api_key": {"key_id": "$response.body#/id"}},
        ("import_absence", "202"): {"import_job": {"job_id": "$response.body#/id"}},
        # A deployed process leads to starting a case of it.
        ("list_definitions", "200"): {"start_case": {_BODY: {"process_key": "$response.body#/0/key"}}},
        ("list_versions", "200"): {"start_case": {_BODY: {"process_key": "$response.body#/0/key"}}},
        ("deploy", "201"): {"start_case": {_BODY: {"process_key": "$response.body#/processes/0/key"}},"list_versions": {"key": "$response.body#/processes/0/key"},
                            "process_figures": {"key": "$response.body#/processes/0/key"},
                            "get_bpmn": {"key": "$response.body#/processes/0/key",
                                         "version": "$response.body#/processes/0/version"}},
    }


def _link(target: str, values: dict) -> dict:
    link = {"operationId": target, "parameters": {k: v for k, v in values.items() if k != _BODY}}
    if _BODY in values:
        link["requestBody"] = values[_BODY]
    return link


def _problem(status: int) -> dict:
    response = {"description": _TITLES.get(status, "Problem"),
                "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def _statuses(method: str, operation: dict) -> set[int]:
    """The error statuses `operation` can answer (see the module docstring)."""
    parameters = operation.get("parameters", [])
    body = "requestBody" in operation
    codes = {int(s) for s in operation["responses"] if s.isdigit() and int(s) >= 400}
    if operation.get("security"):
        codes |= {401, 403, 429}
    name = operation["operationId"]
    if any(p["in"] == "path" for p in parameters) or name in _FINDS:
        codes.add(404)
    if body:
        codes |= {400, 413, 422}
    if parameters:
        codes.add(422)
    if method in ("post", "put", "patch", "delete") or name in _CONFLICTS:
        codes.add(409)
    return codes


def document(app: FastAPI) -> dict:
    """The app's OpenAPI document, built once."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    # The operator's maximum lifetime of an API key is part of the contract this server offers.
    lifetime = schemas["ApiKeyIn"]["properties"]["expires_in_days"]
    lifetime["maximum"] = app.state.settings.api_key_max_days
    lifetime["default"] = min(lifetime.get("default", 365), lifetime["maximum"])
    links = _links()
    for methods in doc["paths"].values():
        for method, operation in methods.items():
            responses = operation["responses"]
            for status in _statuses(method, operation):
                responses[str(status)] = _problem(status)
            for (name, status), targets in links.items():
                if name == operation["operationId"] and status in responses:
                    responses[status]["links"] = {target: _link(target, values)
                                                  for target, values in targets.items()}
    app.openapi_schema = doc
    return doc


def install(app: FastAPI) -> None:
    """Serve `document(app)` at /openapi.json."""
    app.openapi = lambda: document(app)
