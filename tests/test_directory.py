"""The directory of people: a person is their issuer and subject, kept from sign-in claims (a nested roles claim
too) or provisioned (SCIM-managed: the directory's roles and `active` win, at the next request)."""
from __future__ import annotations

import pytest
from conftest import Server
from factories import deployed, sign_in, start_case
from test_authentication import ISSUER, IdentityProvider

from engine.access import directory


@pytest.fixture
def keycloak(db_url, tmp_path):
    """The server behind an identity provider that puts roles where Keycloak does (realm_access.roles)."""
    provider = IdentityProvider()
    # local tokens kept on for the tests' owner and local clients (off by default with OIDC since issue-16-api)
    with Server(db_url, tmp_path / "var", oidc_issuer=ISSUER, oidc_jwks_url=provider.jwks_url,
                oidc_audience="samverka", oidc_roles_claim="realm_access.roles", local_tokens=True) as running:
        yield running, provider
    provider.server.shutdown()


def test_anna_of_one_identity_provider_is_not_anna_of_another(keycloak):
    server, idp = keycloak
    deployed(server, "loop.bpmn")
    with server.client("kim", "kontaktperson") as kim, \
            server.client("anna", "kontaktperson", agency="socialtjanst") as anna_soc, \
            server.bearer(idp.token(server.clock, sub="anna", agency="fritid", realm_access={"roles": []})) as anna:
        sign_in(anna_soc, anna)
        case = start_case(kim, "uppfoljning")
        added = kim.post(f"/cases/{case['id']}/participants", json={"user": "anna", "agency": "socialtjanst",
                                                                     "role": "kontaktperson"})
        assert added.status_code == 201 and added.json()["issuer"] == "samverka", added.text
        assert anna_soc.get(f"/cases/{case['id']}").status_code == 200
        assert anna.get(f"/cases/{case['id']}").status_code == 404, "the same user name, another person"
        assert anna.post(f"/cases/{case['id']}/cancel").status_code == 404
        assert kim.get(f"/cases/{case['id']}").json()["status"] == "open"


def test_the_roles_claim_may_be_a_nested_path(keycloak):
    server, idp = keycloak
    deployed(server, "loop.bpmn")
    token = idp.token(server.clock, sub="f3a1-kc", preferred_username="karin.k", units=["Skolan i Höör"],
                      roles=["rektor"], realm_access={"roles": ["kontaktperson"]})
    with server.bearer(token) as karin:
        me = karin.get("/me").json()
        assert me["roles"] == ["kontaktperson"] and me["units"] == ["Skolan i Höör"] and me["user"] == "karin.k"
        assert (me["issuer"], me["subject"], me["managed_by"]) == (ISSUER, "f3a1-kc", "sign-in")
        assert start_case(karin, "uppfoljning")["unit"] == "Skolan i Höör", "a case belongs to its starter's unit"


def test_a_provisioned_persons_roles_and_deactivation_win_at_the_next_request(server):
    deployed(server, "loop.bpmn")
    with server.client("kim", "rektor", units=("Tyrings skola",)) as before:
        assert before.get("/me").json()["roles"] == ["rektor"]
    with server.client("kim", "kontaktperson") as kim:
        [kim_id] = sign_in(kim)
        assert kim.get("/me").json()["roles"] == ["kontaktperson"], "a sign-in person is as their latest token says"
        with server.app.state.session_factory() as session:
            assert directory.get(session, kim_id).units == [] and directory.find(session, "samverka", "kim").id == kim_id
        case = start_case(kim, "uppfoljning")
        with server.app.state.session_factory() as session, session.begin():
            directory.provision(session, server.clock, person_id=kim_id, issuer="samverka", subject="kim",
                                user_name="kim", agency="skola", roles=["rektor"])
        me = kim.get("/me").json()
        assert me["roles"] == ["rektor"] and me["managed_by"] == "scim", "the directory's roles, not the token's"
        assert kim.post("/cases", json={"process_key": "uppfoljning"}).status_code == 403
        with server.app.state.session_factory() as session, session.begin():
            directory.provision(session, server.clock, person_id=kim_id, issuer="samverka", subject="kim",
                                user_name="kim", agency="skola", roles=["kontaktperson"], active=False)
        refused = kim.get(f"/cases/{case['id']}")
        assert refused.status_code == 401 and "deactivated" in refused.json()["detail"]


def test_with_entra_the_subject_is_the_oid_claim_the_scim_external_id(db_url, tmp_path):
    """SAMVERKA_OIDC_SUBJECT_CLAIM=oid: Entra ID's `sub` differs per application, its object id does not."""
    idp = IdentityProvider()
    with Server(db_url, tmp_path / "var", oidc_issuer=ISSUER, oidc_jwks_url=idp.jwks_url, oidc_audience="samverka",
                oidc_subject_claim="oid") as server:
        oid = "5b0e1c9a-entra-object-id"
        with server.app.state.session_factory() as session, session.begin():  # as SCIM makes her: externalId = oid
            made = directory.provision(session, server.clock, issuer=ISSUER, subject=oid, user_name="eva@kommun.se",
                                       agency="skola", roles=["kontaktperson"]).id
        for sub in ("pairwise-sub-of-app-1", "pairwise-sub-of-app-2"):
            with server.bearer(idp.token(server.clock, sub=sub, oid=oid, roles=["rektor"])) as eva:
                me = eva.get("/me").json()
                assert (me["person_id"], me["subject"], me["roles"]) == (made, oid, ["kontaktperson"]), me
        with server.bearer(idp.token(server.clock, sub="pairwise-sub-of-app-1")) as no_oid:
            refused = no_oid.get("/me")
            assert refused.status_code == 401 and "oid must name the subject" in refused.json()["detail"]
    idp.server.shutdown()
