"""What samverka serves over SCIM 2.0 (RFC 7643/7644), and how a SCIM resource maps to the directory.

- A SCIM **User** is a directory person (`engine.access.directory`), with the same id. The person signs in with
  issuer = `SAMVERKA_OIDC_ISSUER` (the embedded `samverka` issuer when none is configured) and subject =
  the User's `externalId`, or its `userName` when it has none: that is how a token finds the person SCIM made.
- Their **agency and units** come from the samverka extension (`agency`, `units`), or, for identity providers
  that only send the enterprise extension, from its `organization` (agency) and `department` (one unit).
- A SCIM **Group** stands for a role: its `displayName` is the role (compared as a role id, so `HLT-mötet`
  is `hlt_motet`). A person's roles are those of every group they are a member of, and the values of the
  User's own `roles` attribute (how Entra ID sends app-role assignments). Nested groups are not supported.
- `active: false` deactivates the person: their next request is refused. Deleting a User keeps the person,
  deactivated, so no later sign-in can bring them back on a token's claims.
"""
from __future__ import annotations

from typing import Any

from scim2_models import (URN, AuthenticationScheme, Bulk, ChangePassword, EnterpriseUser, ETag, Extension, Filter,
                          Group, Pagination, Patch, Reference, ResourceType, ScimPolicy, ScimProvider,
                          ServiceProviderConfig, Sort, User)
from scim2_models.reference import External

from engine.core.roles import role_id

SAMVERKA_USER = "urn:ietf:params:scim:schemas:extension:samverka:2.0:User"
MAX_RESULTS = 200  # a page of a search; Entra ID asks for one user at a time, Keycloak for pages of ~100


class SamverkaUser(Extension):
    """Where the person acts: their agency (skola, socialtjanst, ...) and units (the school, the office)."""

    __schema__ = URN(SAMVERKA_USER)

    agency: str | None = None
    """The agency the person acts for, as a slug: skola, socialtjanst, halso_sjukvard, fritid, polis, ..."""

    units: list[str] | None = None
    """The units of the agency the person works in (a school, a social-services office, a health centre)."""


UserModel = User[EnterpriseUser | SamverkaUser]


def provider() -> ScimProvider:
    """The SCIM service: Users (with the enterprise and samverka extensions) and Groups, and what it supports."""
    user_type = ResourceType.from_resource(UserModel)
    user_type.description = "A person of the directory"
    group_type = ResourceType.from_resource(Group)
    group_type.description = "A role: its members hold the role named by its displayName"
    config = ServiceProviderConfig(
        documentation_uri=Reference[External]("https://samverka.se/docs/directory"),
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        pagination=Pagination(index=True, cursor=False),
        authentication_schemes=[AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken, name="API key",
            description="An API key (svk_...) with the scope scim, sent as a Bearer token", primary=True)],
    )
    # Entra ID sends `remove` operations with a value, expects a filtered path that matches nothing to add the
    # entry, and names a Microsoft schema on groups that is not even a URN: unknown attributes and schemas are
    # dropped rather than refused (what samverka acts on is declared, so nothing it needs can hide there).
    policy = ScimPolicy(remove_value_as_filter=ScimPolicy.RemoveValue.apply, unknown=ScimPolicy.Unknown.ignore,
                        unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create)
    return ScimProvider(models=[User, EnterpriseUser, SamverkaUser, Group], resource_types=[user_type, group_type],
                        config=config, policy=policy)


def subject_of(user: Any) -> str:
    """The token subject a SCIM User signs in with: its externalId, else its userName."""
    return user.external_id or user.user_name


def placement(user: Any) -> tuple[str | None, list[str]]:
    """(agency, units) of a SCIM User: the samverka extension first, the enterprise extension's
    organization and department otherwise."""
    own = user[SamverkaUser] if _has(user, SamverkaUser) else None
    enterprise = user[EnterpriseUser] if _has(user, EnterpriseUser) else None
    agency = (own.agency if own else None) or (enterprise.organization if enterprise else None)
    units = (own.units if own else None) or ([enterprise.department] if enterprise and enterprise.department else [])
    return (role_id(agency) if agency else None), sorted(set(units))


def own_roles(user: Any) -> set[str]:
    """The roles the User resource names itself (Entra ID's app-role assignments)."""
    return {r.value for r in user.roles or [] if r.value}


def group_role(display_name: str | None) -> str | None:
    """The role a Group of this displayName stands for."""
    return role_id(display_name)


def _has(user: Any, extension: type) -> bool:
    try:
        return user[extension] is not None
    except KeyError:
        return False
