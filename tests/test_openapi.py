"""The OpenAPI document says what the API does: problems under the media type they are sent with, the
error statuses of each operation, stable operation ids, and links that lead somewhere."""
from __future__ import annotations

import re

import httpx
import pytest

from api.app import create_app
from engine.core.settings import Settings

DOC = create_app(Settings(database_url="sqlite://")).openapi()
OPERATIONS = {spec["operationId"]: (method, path, spec) for path, methods in DOC["paths"].items()
              for method, spec in methods.items()}


def test_every_operation_has_a_unique_operation_id_named_like_its_route_function():
    ids = [spec["operationId"] for methods in DOC["paths"].values() for spec in methods.values()]
    assert len(ids) == len(set(ids)) == len(OPERATIONS)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert {"start_case", "get_case", "complete_task", "send_correlated_message", "import_absence"} <= set(ids)


def test_every_error_is_documented_as_a_problem_under_its_real_media_type():
    for operation_id, (method, path, spec) in OPERATIONS.items():
        for status, response in spec["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (operation_id, status)
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}


@pytest.mark.parametrize("operation_id, statuses", [
    ("start_case", {400, 401, 403, 404, 409, 413, 422, 429}), ("get_case", {401, 403, 404, 422, 429}),
    ("list_definitions", {401, 403, 429}), ("delete_webhook", {401, 403, 404, 409, 422, 429}),
    ("health", set())])
def test_each_operation_lists_the_error_statuses_it_can_answer(operation_id, statuses):
    responses = OPERATIONS[operation_id][2]["responses"]
    assert {int(s) for s in responses if int(s) >= 400} == statuses
    if 429 in statuses:
        assert "Retry-After" in responses["429"]["headers"]


def test_links_lead_to_operations_and_fill_their_parameters():
    links = 0
    for operation_id, (_, _, spec) in OPERATIONS.items():
        for response in spec["responses"].values():
            for link in response.get("links", {}).values():
                links += 1
                _, _, target = OPERATIONS[link["operationId"]]
                names = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
                assert set(link["parameters"]) == names, (operation_id, link)
    assert links >= 30


def test_the_served_document_is_this_one_and_errors_come_as_documented(server):
    assert httpx.get(f"{server.base_url}/openapi.json").json() == DOC
    refused = httpx.get(f"{server.base_url}/cases")
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"


def test_an_unknown_query_parameter_or_an_unparsable_body_is_a_documented_problem(server):
    with server.client("kim", "kontaktperson") as kim:
        misspelt = kim.get("/tasks", params={"proces_key": "hlt"})
        assert misspelt.status_code == 422 and [e["location"] for e in misspelt.json()["errors"]] == [
            "/query/proces_key"], "a misspelt filter is not silently ignored"
        assert kim.get("/tasks", params={"process_key": "hlt"}).status_code == 200
        twice = kim.get("/tasks?state=open&state=done")
        assert twice.status_code == 422 and twice.json()["errors"][0]["location"] == "/query/state"
        broken = kim.post("/cases", content=b'\x80\x81', headers={"content-type": "application/json"})
        assert broken.status_code == 400 and broken.headers["content-type"] == "application/problem+json"
        assert broken.json()["type"] == "urn:samverka:problem:bad-request"
