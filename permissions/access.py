"""The viewer's roles, loaded once per request, and the checks every lookup goes through."""

from __future__ import annotations

import asyncio

from stepwise.models.db.accounts import Membership, User
from stepwise.models.db.datasets import DatasetWorker
from stepwise.models.errors import Forbidden, NotFound, Unauthenticated
from stepwise.permissions.policy import Scope, allows, scope_of
from stepwise.permissions.roles import DatasetRole, OrgRole, effective_dataset_role


class Access:
    """What the current viewer may see and do. Two cached queries answer every check."""

    def __init__(self, viewer: User | None) -> None:
        self.viewer = viewer
        self._org_roles: dict[int, OrgRole] | None = None
        self._worker_roles: dict[int, DatasetRole] | None = None
        # Sibling resolvers run concurrently: load each cache once, not once per resolver.
        self._loading = asyncio.Lock()

    def require_viewer(self) -> User:
        if self.viewer is None:
            raise Unauthenticated()
        return self.viewer

    def forget(self) -> None:
        """Drop cached roles after a change to memberships or workers."""
        self._org_roles = None
        self._worker_roles = None

    async def org_roles(self) -> dict[int, OrgRole]:
        viewer = self.require_viewer()
        async with self._loading:
            if self._org_roles is None:
                rows = await Membership.filter(user_id=viewer.id).values_list("organization_id", "role")
                self._org_roles = {org_id: OrgRole(role) for org_id, role in rows}
            return self._org_roles

    async def org_role(self, org_id: int) -> OrgRole | None:
        return (await self.org_roles()).get(org_id)

    async def require_member(self, org_id: int) -> OrgRole:
        """The viewer's role in the organization; NOT_FOUND when they are not a member."""
        role = await self.org_role(org_id)
        if role is None:
            raise NotFound("Organization")
        return role

    async def dataset_role(self, dataset_id: int, org_id: int) -> DatasetRole | None:
        viewer = self.require_viewer()
        async with self._loading:
            if self._worker_roles is None:
                rows = await DatasetWorker.filter(user_id=viewer.id).values_list("dataset_id", "role")
                self._worker_roles = {ds_id: DatasetRole(role) for ds_id, role in rows}
            worker_role = self._worker_roles.get(dataset_id)
        return effective_dataset_role(await self.org_role(org_id), worker_role)

    async def role_in(self, scope: Scope, org_id: int, dataset_id: int | None) -> OrgRole | DatasetRole | None:
        if scope is Scope.ORGANIZATION:
            return await self.org_role(org_id)
        assert dataset_id is not None
        return await self.dataset_role(dataset_id, org_id)

    async def check(self, action: str, org_id: int, dataset_id: int | None = None, what: str = "object"):
        """The viewer's role if the policy allows `action`; NOT_FOUND without any role, else FORBIDDEN."""
        role = await self.role_in(scope_of(action), org_id, dataset_id)
        if role is None:
            raise NotFound(what)
        if not allows(action, role):
            raise Forbidden(f"Your role ({role}) does not allow {action}.")
        return role

    async def can(self, action: str, org_id: int, dataset_id: int | None = None) -> bool:
        return allows(action, await self.role_in(scope_of(action), org_id, dataset_id))
