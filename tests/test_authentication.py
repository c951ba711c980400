"""Who is asking: OIDC tokens checked against a real JWKS endpoint, local tokens, and API keys."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from conftest import ROOT, Server
from cryptography.hazmat.primitives.asymmetric import rsa
from factories import deployed, start_case

from engine.access.identity import Principal, mint_token

ISSUER = "https://idp.kommunen.example/realms/samverka"


class IdentityProvider:
    """A real HTTP server publishing a JWKS, and the signer of its tokens."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
        self.status, self.fetched = 200, 0  # a failing provider answers 503
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's naming
                provider.fetched += 1
                self.send_response(provider.status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body if provider.status == 200 else b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.jwks_url = f"http://127.0.0.1:{self.server.server_port}/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, clock, key=None, kid="k1", **claims) -> str:
        now = int(clock.now().timestamp())
        payload = {"iss": ISSUER, "aud": "samverka", "sub": "anna.a", "agency": "skola", "roles": ["kontaktperson"],
                   "iat": now, "exp": now + 300, **claims}
        payload = {k: v for k, v in payload.items() if v is not None}  # a claim given as None is left out
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def idp():
    provider = IdentityProvider()
    yield provider
    provider.server.shutdown()


@pytest.fixture
def oidc_server(db_url, tmp_path, idp):
    # local tokens kept on for the tests' registrar and admin clients (off by default with OIDC: see below)
    with Server(db_url, tmp_path / "var", oidc_issuer=ISSUER, oidc_jwks_url=idp.jwks_url,
                oidc_audience="samverka", local_tokens=True) as running:
        yield running


def test_an_oidc_token_signed_by_the_identity_provider_is_accepted(oidc_server, idp):
    deployed(oidc_server, "loop.bpmn")
    with oidc_server.bearer(idp.token(oidc_server.clock)) as anna:
        case = start_case(anna, "uppfoljning")
        assert anna.get(f"/cases/{case['id']}").status_code == 200
    with oidc_server.client("registrar", "registrator") as registrar:
        [started, *_] = registrar.get(f"/cases/{case['id']}/access-log").json()["items"]
    assert started["user"] == "anna.a" and started["client"] == f"oidc:{ISSUER}"


def test_oidc_tokens_that_are_forged_expired_or_for_another_audience_are_refused(oidc_server, idp):
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    clock = oidc_server.clock
    bad = {"signed by another key": idp.token(clock, key=forger),
           "for another audience": idp.token(clock, aud="ekonomisystemet"),
           "expired": idp.token(clock, exp=int(clock.now().timestamp()) - 1),
           "claiming the internal role": idp.token(clock, roles=["system"]),
           "from an unknown issuer": idp.token(clock, iss="https://evil.example")}
    for why, token in bad.items():
        with oidc_server.bearer(token) as client:
            response = client.get("/tasks")
            assert response.status_code == 401, why
            assert response.headers["content-type"] == "application/problem+json"


def test_an_oidc_token_without_an_audience_or_a_subject_is_refused(oidc_server, idp):
    clock = oidc_server.clock
    bad = {"no aud": idp.token(clock, aud=None), "empty sub": idp.token(clock, sub=""),
           "blank sub": idp.token(clock, sub="  "), "sub not a string": idp.token(clock, sub=17),
           "no sub": idp.token(clock, sub=None)}
    for why, token in bad.items():
        with oidc_server.bearer(token) as client:
            assert client.get("/tasks").status_code == 401, why


def test_an_oidc_token_issued_in_the_future_is_refused_beyond_the_leeway(oidc_server, idp):
    clock, now = oidc_server.clock, int(oidc_server.clock.now().timestamp())
    leeway = oidc_server.settings.oidc_leeway_seconds
    with oidc_server.bearer(idp.token(clock, iat=now + leeway + 5)) as ahead:
        refused = ahead.get("/tasks")
        assert refused.status_code == 401 and "issued in the future" in refused.json()["detail"]
    with oidc_server.bearer(idp.token(clock, iat=now + leeway - 5, nbf=now + leeway - 5)) as skewed:
        assert skewed.get("/tasks").status_code == 200, "a provider's clock a little ahead is tolerated"
    with oidc_server.bearer(idp.token(clock, iat="now")) as odd:
        assert odd.get("/tasks").status_code == 401


def test_with_oidc_configured_local_tokens_are_off_unless_switched_on(db_url, tmp_path, idp):
    with Server(db_url, tmp_path / "var", oidc_issuer=ISSUER, oidc_jwks_url=idp.jwks_url,
                oidc_audience="samverka") as running:
        with running.client("kim", "kontaktperson") as local:
            refused = local.get("/tasks")
            assert refused.status_code == 401 and "local tokens are switched off" in refused.json()["detail"]
        with running.bearer(idp.token(running.clock)) as anna:
            assert anna.get("/tasks").status_code == 200


def test_oidc_without_an_audience_refuses_to_start_with_a_clear_message(tmp_path):
    env = {**os.environ, "SAMVERKA_VAR_DIR": str(tmp_path), "SAMVERKA_OIDC_ISSUER": ISSUER,
           "SAMVERKA_OIDC_JWKS_URL": "http://127.0.0.1:9/certs"}
    env.pop("SAMVERKA_OIDC_AUDIENCE", None)
    started = subprocess.run([sys.executable, "-m", "api.cli", "serve", "--port", "0"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert "SAMVERKA_OIDC_AUDIENCE is required with SAMVERKA_OIDC_ISSUER" in started.stderr


def test_an_oidc_token_is_refused_before_its_nbf_by_the_engine_clock(oidc_server, idp):
    clock = oidc_server.clock
    early = idp.token(clock, nbf=int(clock.now().timestamp()) + 60)
    with oidc_server.bearer(early) as client:
        refused = client.get("/tasks")
        assert refused.status_code == 401 and "not yet valid" in refused.json()["detail"]
        clock.advance(timedelta(seconds=60))
        assert client.get("/tasks").status_code == 200, "valid from nbf on"
    with oidc_server.bearer(idp.token(clock, nbf="soon")) as client:
        assert client.get("/tasks").status_code == 401


def test_a_token_whose_kid_the_provider_does_not_publish_is_refused(oidc_server, idp):
    with oidc_server.bearer(idp.token(oidc_server.clock, kid="k-rotated-away")) as client:
        unknown = client.get("/tasks")
        assert unknown.status_code == 401 and "no signing key" in unknown.json()["detail"]
        assert "k-rotated-away" in unknown.json()["detail"]
    assert idp.fetched >= 1, "it was checked against the provider's published keys"


def test_while_the_identity_provider_is_down_its_tokens_are_refused_not_errors(oidc_server, idp):
    idp.status = 503  # no keys to check a signature against: no one gets in, and the server stays up
    with oidc_server.bearer(idp.token(oidc_server.clock)) as client:
        down = client.get("/tasks")
        assert down.status_code == 401 and "could not be fetched" in down.json()["detail"]
        assert down.headers["content-type"] == "application/problem+json"
        idp.status = 200
        assert client.get("/tasks").status_code == 200, "and once it is back, they are accepted"


def test_unknown_forged_and_malformed_api_keys_are_refused(server):
    with server.client("sys", "systemforvaltare") as admin:
        key = admin.post("/api-keys", json={"name": "n", "scopes": ["events"]}).json()["key"]
    key_id, secret = key.removeprefix("svk_").split("_", 1)
    forged = f"svk_{key_id}_{'A' * len(secret)}"  # the right id, another secret
    unknown = f"svk_{'0' * 32}_{secret}"  # a well-formed key no one issued
    for why, attempt in {"forged": forged, "unknown": unknown, "malformed": "svk_not-a-key"}.items():
        with server.bearer(attempt) as client:
            refused = client.get("/events")
            assert refused.status_code == 401, why
            assert refused.json()["detail"] == "invalid API key", why
            assert refused.headers["www-authenticate"] == "Bearer"
    with server.bearer(key) as client:
        assert client.get("/events").status_code == 200, "the real key still works"


def test_local_tokens_expire(server):
    brief_token = mint_token(server.settings, server.clock, Principal("kim", "skola"), timedelta(minutes=5))
    with server.client("kim", "kontaktperson") as kim, server.bearer(brief_token) as brief:
        assert brief.get("/tasks").status_code == 200
        server.clock.advance(timedelta(minutes=6))
        assert brief.get("/tasks").status_code == 401 and kim.get("/tasks").status_code == 200


def test_api_keys_are_scoped_revocable_expiring_and_stored_only_as_a_hash(server, db_url):
    with server.client("sys", "systemforvaltare") as admin, server.client("kim", "kontaktperson") as kim:
        assert kim.post("/api-keys", json={"name": "x", "scopes": ["events"]}).status_code == 403
        refused = admin.post("/api-keys", json={"name": "x", "scopes": ["events", "DROP TABLE case"]})
        assert refused.status_code == 422 and refused.json()["errors"][0]["location"] == "/body/scopes/1"
        created = admin.post("/api-keys", json={"name": "Närvarosystemet", "agency": "skola", "expires_in_days": 30,
                                                "scopes": ["events", "absence:skolan_i_hoor"]})
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["id"]
        with server.bearer(key) as client:
            assert client.get("/events").status_code == 200
            assert client.get("/webhooks").status_code == 403, "no webhooks scope"
            assert client.post("/absence-reports", json={
                "skola": "Annan skola", "period_start": "2026-01-12", "period_slut": "2026-01-18",
                "rows": [{"elev": "e", "franvaro_procent": 1, "ogiltig_franvaro": False}]}).status_code == 403
            assert client.get("/api-keys").status_code == 403, "a key cannot manage keys"
            assert admin.post(f"/api-keys/{key_id}/revoke").json()["revoked_at"] is not None
            assert client.get("/events").status_code == 401, "revoked: refused at the very next request"
        second = admin.post("/api-keys", json={"name": "kort", "scopes": ["events"], "expires_in_days": 1}).json()
        with server.bearer(second["key"]) as client:
            assert client.get("/events").status_code == 200
            server.clock.advance(timedelta(days=1, seconds=1))
            assert client.get("/events").status_code == 401
        assert "key" not in admin.get("/api-keys").json()[0]
        for forever in ({"expires_in_days": None}, {"expires_in_days": 366}):
            refused = admin.post("/api-keys", json={"name": "evig", "scopes": ["events"], **forever})
            assert refused.status_code == 422, forever
            assert [e["location"] for e in refused.json()["errors"]] in (["/expires_in_days"],
                                                                         ["/body/expires_in_days"]), forever
        default = admin.post("/api-keys", json={"name": "standard", "scopes": ["events"]}).json()
        assert default["expires_at"] is not None, "a key given no lifetime gets the default, never none"
    if db_url.startswith("sqlite"):
        stored = sqlite3.connect(db_url.removeprefix("sqlite:///")).execute("SELECT * FROM api_key").fetchall()
        # The secret is all after the id (it may hold "_" itself: the last "_"-part alone can be one letter).
        secret = key.removeprefix("svk_").split("_", 1)[1]
        assert stored and secret not in repr(stored), "only a hash of the secret is kept"


def test_an_api_key_issued_on_the_command_line_works_against_the_server(server, db_url, tmp_path):
    env = {**os.environ, "SAMVERKA_DATABASE_URL": db_url, "SAMVERKA_VAR_DIR": str(tmp_path)}
    issued = subprocess.run([sys.executable, "-m", "api.cli", "api-key", "--name", "Närvarosystemet",
                             "--scope", "events"], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    with server.bearer(issued.stdout.strip()) as client:
        assert client.get("/events").status_code == 200
    refused = subprocess.run([sys.executable, "-m", "api.cli", "api-key", "--name", "x", "--scope", "allt"],
                             env=env, cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 1 and "/scopes/0" in refused.stderr


def test_the_operators_maximum_key_lifetime_is_enforced_and_published(db_url, tmp_path):
    with Server(db_url, tmp_path / "var", api_key_max_days=30) as short:
        lifetime = httpx.get(f"{short.base_url}/openapi.json").json()["components"]["schemas"]["ApiKeyIn"][
            "properties"]["expires_in_days"]
        assert (lifetime["maximum"], lifetime["default"]) == (30, 30)
        with short.client("sys", "systemforvaltare") as admin:
            assert admin.post("/api-keys", json={"name": "n", "scopes": ["events"],
                                                 "expires_in_days": 31}).status_code == 422
            default = admin.post("/api-keys", json={"name": "n", "scopes": ["events"]}).json()
            assert default["expires_at"].startswith((short.clock.now() + timedelta(days=30)).date().isoformat())
