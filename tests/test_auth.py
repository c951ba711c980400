"""Every route but health and the docs needs a valid, unexpired token."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engine.access.identity import Principal, mint_token

PUBLIC = {"/health"}


def _routes(server):
    spec = server.app.openapi()
    for path, methods in spec["paths"].items():
        for method in methods:
            concrete = path.replace("{key}", "x").replace("{version}", "1").replace("{case_id}", "c").replace("{task_id}", "t")
            yield method.upper(), path, concrete


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_route_refuses_without_a_valid_token(server):
    expired = mint_token(server.settings, server.clock, Principal("kim", "skola", frozenset({"kontaktperson"})))
    server.clock.advance(timedelta(hours=server.settings.token_ttl_hours, seconds=1))
    headers_list = [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Bearer {expired}"},
                    {"Authorization": f"Bearer {server.token('kim', 'x')[:-4]}AAAA"}]
    with server.anonymous() as client:
        checked = 0
        for method, path, concrete in _routes(server):
            if path in PUBLIC:
                assert client.request(method, concrete).status_code == 200
                continue
            for headers in headers_list:
                response = client.request(method, concrete, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
                assert response.headers["content-type"] == "application/problem+json"
            checked += 1
        assert checked >= 13
    with server.anonymous() as client:
        assert client.get("/docs").status_code == 200 and client.get("/openapi.json").status_code == 200
