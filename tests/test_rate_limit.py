"""Requests per principal are limited (`limits`), and the one over the limit gets 429 with Retry-After."""
from __future__ import annotations

import shutil

import pytest
from conftest import Server


@pytest.fixture
def limited(tmp_path, sqlite_template):
    path = tmp_path / "samverka.db"
    shutil.copy(sqlite_template, path)
    with Server(f"sqlite:///{path}", tmp_path / "var", rate_limit="3/minute") as running:
        yield running


def test_a_principal_over_the_limit_gets_429_with_retry_after_and_others_go_on(limited):
    with limited.client("kim", "kontaktperson") as kim, limited.client("eva", "kontaktperson") as eva:
        assert [kim.get("/tasks").status_code for _ in range(3)] == [200, 200, 200]
        refused = kim.get("/tasks")
        assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["type"] == "urn:samverka:problem:too-many-requests"
        assert eva.get("/tasks").status_code == 200, "counted per principal"
    with limited.client("kim", "kontaktperson", agency="socialtjanst") as same_user_new_token:
        assert same_user_new_token.get("/tasks").status_code == 429, "a new token for the same user is the same principal"


def test_a_rate_limit_setting_that_cannot_be_read_refuses_to_start(tmp_path):
    with pytest.raises(ValueError, match="SAMVERKA_RATE_LIMIT"):
        Server("sqlite://", tmp_path, rate_limit="lots")
