"""SCIM Users and Groups over the directory: the storage scim2-server reads and writes through.

scim2-server does the protocol (validation, PATCH, filters, attributes, ETags, errors); this storage keeps
each resource as sent (`scim_resource`) and, on every write, provisions the directory people it concerns
(engine.access.scim_schema says how a resource maps to a person). Each write is a row in the access log
(action `directory`), naming the resource by id only: user names may be anything, a personnummer included,
so they never reach the log, and a resource holding a personnummer anywhere is refused.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from scim2_models import (InvalidValueException, Meta, NotFoundException,
                          PreconditionFailedException, Resource, ResourceType, ResponseParameters, SCIMException, ScimFilter,
                          ScimProvider, SearchRequest, UniquenessException)
from scim2_models.path import CompareOperator, Comparison
from scim2_server.storage import ScimStorage, SearchPage
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import audit, directory, personnummer
from engine.access.identity import ISSUER as LOCAL_ISSUER
from engine.access.identity import Principal
from engine.access.scim_schema import group_role, own_roles, placement, subject_of
from engine.core.clock import Clock
from engine.core.errors import Refused
from engine.core.models import ScimResource
from engine.core.settings import Settings
from engine.core.walk import strings

USER, GROUP = "User", "Group"
_NOT_STORED = {"id", "meta", "password", "groups"}  # the server's own, never kept (password), or derived (groups)
_COLUMNS = {"username": "name_key", "displayname": "name_key", "externalid": "external_id", "id": "id"}


def _role(body: dict) -> str | None:
    """The role the body of a stored Group stands for."""
    return group_role(body.get("displayName"))


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


class DirectoryStorage(ScimStorage):
    """One request's view of the SCIM resources; the caller owns the transaction."""

    def __init__(self, session: Session, clock: Clock, principal: Principal, provider: ScimProvider, issuer: str):
        self.session, self.clock, self.principal = session, clock, principal
        self.provider, self.issuer = provider, issuer

    # -- reads -------------------------------------------------------------

    def get(self, resource_type: ResourceType, resource_id: str, *,
            response_parameters: ResponseParameters[Any] | None = None) -> Resource[Any]:
        return self._model(resource_type, self._row(resource_type, resource_id))

    def search(self, resource_types: list[ResourceType], search_request: SearchRequest[Any], *,
               position: Any = None) -> SearchPage:
        found = [model for resource_type in resource_types
                 for model in self._matching(resource_type, search_request.filter)]
        start = search_request.start_index_0 or 0
        stop = None if search_request.count is None else start + search_request.count
        return SearchPage(len(found), found[start:stop])

    def _matching(self, resource_type: ResourceType, scim_filter: ScimFilter[Any] | None) -> list[Resource[Any]]:
        """The resources of one type the filter selects, oldest first."""
        query = self._narrowed(select(ScimResource).where(ScimResource.kind == resource_type.name), scim_filter)
        rows = self.session.scalars(query.order_by(ScimResource.created_at, ScimResource.id))
        models = [self._model(resource_type, row) for row in rows]
        if scim_filter is None or not models:
            return models
        if not scim_filter.models:  # a search at the root: the filter is read against each type in turn
            try:
                scim_filter = ScimFilter[type(models[0])](str(scim_filter))
            except (SCIMException, ValueError):
                return []  # an attribute this type does not declare matches none of its resources
        return [model for model in models if scim_filter.match(model)]

    @staticmethod
    def _narrowed(query, scim_filter: ScimFilter[Any] | None):
        """The query narrowed by an indexed column for `attr eq "value"` (userName, externalId, displayName, id);
        the filter itself is still applied to what it returns."""
        node = scim_filter.ast if scim_filter is not None else None
        if not (isinstance(node, Comparison) and node.op == CompareOperator.eq and isinstance(node.value, str)
                and node.attr_path.sub_attr is None and node.attr_path.uri is None):
            return query
        column = _COLUMNS.get(node.attr_path.attr.casefold())
        if column is None:
            return query
        value = node.value.casefold() if column == "name_key" else node.value
        return query.where(getattr(ScimResource, column) == value)

    def _row(self, resource_type: ResourceType, resource_id: str | None) -> ScimResource:
        row = self.session.get(ScimResource, resource_id) if resource_id else None
        if row is None or row.kind != resource_type.name:
            raise NotFoundException(detail=f"no {resource_type.name} with id {resource_id}")
        return row

    def _model(self, resource_type: ResourceType, row: ScimResource) -> Resource[Any]:
        model = self.provider.model_for(resource_type).model_validate(row.body)
        model.id = row.id
        model.meta = Meta(resource_type=resource_type.name, created=row.created_at, last_modified=row.updated_at,
                          version=f'W/"{row.version}"')
        return model

    # -- writes ------------------------------------------------------------

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        body = self._body(resource)
        if resource_type.name == USER:
            self._check_user_name(resource, None)
            existing = directory.find(self.session, self.issuer, subject_of(resource))
            if existing is not None and self.session.get(ScimResource, existing.id) is not None:
                raise UniquenessException(detail="another User already has this externalId (the token subject)")
            resource_id = existing.id if existing is not None else str(uuid.uuid4())
        else:
            self._check_members(resource)
            resource_id = str(uuid.uuid4())
        now = self.clock.now()
        row = ScimResource(id=resource_id, kind=resource_type.name, created_at=now, updated_at=now)
        self._write(row, resource, body)
        self.session.add(row)
        self.session.flush()
        self._provision_affected(row, resource, set())
        self._log(row, "created")
        return self._model(resource_type, row)

    def update(self, resource_type: ResourceType, resource: Resource[Any], *,
               expected_version: str | None = None) -> Resource[Any]:
        row = self._row(resource_type, resource.id)
        self._check_version(row, expected_version)
        body = self._body(resource)
        before, role_before = self._member_ids(row), _role(row.body)
        if resource_type.name == USER:
            self._check_user_name(resource, row.id)
            other = directory.find(self.session, self.issuer, subject_of(resource))
            if other is not None and other.id != row.id:
                raise UniquenessException(detail="another person already signs in with this externalId")
        else:
            self._check_members(resource)
        if body != row.body:  # a PUT or PATCH that changes nothing writes nothing and is no directory change
            self._write(row, resource, body)
            row.updated_at = self.clock.now()
            self.session.flush()
            self._provision_affected(row, resource, before, role_before)
            self._log(row, "replaced")
        return self._model(resource_type, row)

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version: str | None = None) -> None:
        row = self._row(resource_type, resource_id)
        self._check_version(row, expected_version)
        affected = self._member_ids(row)
        if row.kind == USER:
            self._leave_groups(row.id)
            person = directory.get(self.session, row.id)
            # Kept, deactivated and SCIM-managed: a later sign-in cannot bring them back on a token's claims.
            directory.provision(self.session, self.clock, issuer=person.issuer, subject=person.subject,
                                user_name=person.user_name, display_name=person.display_name, agency=person.agency,
                                units=person.units, roles=[], active=False, external_id=person.external_id,
                                person_id=person.id)
        self.session.delete(row)
        self.session.flush()
        self._reprovision(affected)
        self._log(row, "deleted")

    # -- the directory -----------------------------------------------------

    def _provision_affected(self, row: ScimResource, resource: Resource[Any], before: set[str],
                            role_before: str | None = None) -> None:
        """Bring the directory in line with a written resource: the person a User is, or those whose roles a
        Group's change touches (members who came or went; all of them when the role itself changed)."""
        if row.kind == USER:
            self._provision(row.id, resource, self._group_roles().get(row.id, set()))
        else:
            after = self._member_ids(row)
            self._reprovision(before | after if _role(row.body) != role_before else before ^ after)

    def _provision(self, person_id: str, user: Resource[Any], group_roles: set[str]) -> None:
        agency, units = placement(user)
        directory.provision(self.session, self.clock, issuer=self.issuer, subject=subject_of(user),
                            user_name=user.user_name, display_name=user.display_name, agency=agency, units=units,
                            roles=sorted(own_roles(user) | group_roles), active=user.active is not False,
                            external_id=user.external_id, person_id=person_id)

    def _reprovision(self, person_ids: set[str]) -> None:
        if not person_ids:
            return
        user_type, roles = self.provider.model_for(USER), self._group_roles()
        rows = self.session.scalars(select(ScimResource).where(ScimResource.kind == USER,
                                                               ScimResource.id.in_(sorted(person_ids))))
        for row in rows:
            self._provision(row.id, user_type.model_validate(row.body), roles.get(row.id, set()))

    def _groups(self) -> list[ScimResource]:
        return list(self.session.scalars(select(ScimResource).where(ScimResource.kind == GROUP)))

    def _group_roles(self) -> dict[str, set[str]]:
        """The roles each User holds through its groups (one read of the groups: roles are few)."""
        roles: dict[str, set[str]] = {}
        for group in self._groups():
            role = _role(group.body)
            for member in self._member_ids(group) if role else ():
                roles.setdefault(member, set()).add(role)
        return roles

    @staticmethod
    def _member_ids(row: ScimResource) -> set[str]:
        if row.kind != GROUP:
            return set()
        return {m["value"] for m in row.body.get("members") or [] if isinstance(m, dict) and m.get("value")}

    def _leave_groups(self, user_id: str) -> None:
        """Take a deleted User out of every group it was a member of."""
        for group in self._groups():
            if user_id in self._member_ids(group):
                body = dict(group.body)
                body["members"] = [m for m in body.get("members") or [] if m.get("value") != user_id]
                group.body, group.version, group.updated_at = body, _digest(body), self.clock.now()
                self._log(group, "member removed with its User")

    # -- rules ---------------------------------------------------------------

    def _body(self, resource: Resource[Any]) -> dict:
        body = resource.model_dump(mode="json", exclude=_NOT_STORED)
        today = self.clock.now().date()
        for location, text in strings(body, ""):
            if personnummer.find(text, today):
                raise InvalidValueException(detail=f"{location or '/'} holds a personnummer or samordningsnummer; "
                                                   "samverka keeps none in its directory")
        return body

    def _check_user_name(self, user: Resource[Any], own_id: str | None) -> None:
        taken = self.session.scalar(select(ScimResource.id).where(
            ScimResource.kind == USER, ScimResource.name_key == user.user_name.casefold()).limit(1))
        if taken is not None and taken != own_id:
            raise UniquenessException(detail="another User has this userName")

    def _check_members(self, group: Resource[Any]) -> None:
        wanted = {member.value for member in group.members or []}
        users = set(self.session.scalars(select(ScimResource.id).where(
            ScimResource.kind == USER, ScimResource.id.in_(sorted(v for v in wanted if v))))) if wanted else set()
        for value in sorted(wanted - users, key=str):
            raise InvalidValueException(detail=f"member {value!r} is no User of this service "
                                               "(members are Users; nested groups are not supported)")

    @staticmethod
    def _check_version(row: ScimResource, expected_version: str | None) -> None:
        if expected_version is not None and expected_version != f'W/"{row.version}"':
            raise PreconditionFailedException(detail="the resource was changed since that version")

    @staticmethod
    def _write(row: ScimResource, resource: Resource[Any], body: dict) -> None:
        name = resource.user_name if row.kind == USER else resource.display_name
        row.name_key, row.external_id = (name or "").casefold()[:500], resource.external_id
        row.body, row.version = body, _digest(body)

    def _log(self, row: ScimResource, change: str) -> None:
        audit.record(self.session, self.clock, self.principal, [None], "directory",
                     f"SCIM {row.kind} {row.id} {change}")


SCIM_SCOPE = "scim"


def require_provisioner(principal: Principal) -> None:
    """Refused unless `principal` is an API key with the scope `scim` (the `*` scope does not cover it:
    provisioning decides who holds which role, so it is granted by name)."""
    if not principal.client.startswith("api-key:") or SCIM_SCOPE not in principal.scopes:
        raise Refused("SCIM provisioning needs an API key with the scope scim")


def issuer(settings: Settings) -> str:
    """The issuer whose tokens the SCIM-provisioned people sign in with."""
    return settings.oidc_issuer or LOCAL_ISSUER
