"""The viewer's roles, loaded once per request, and the checks every lookup goes through."""

from __future__ import annotations

import asyncio

from stepwise.models.db.accounts import User
from stepwise.models.errors import INVALID_TOKEN, SIGN_IN_FIRST, Forbidden, NotFound, Unauthenticated
from stepwise.models.queries.accounts import roles_of_user
from stepwise.permissions.operations import Operation
from stepwise.permissions.policy import Scope
from stepwise.permissions.roles import DatasetRole, OrgRole, effective_dataset_role


class Access:
    """What the current viewer may see and do. One cached query answers every check."""

    def __init__(self, viewer: User | None, token_rejected: bool = False, roles: list | None = None) -> None:
        """`roles`: the viewer's role rows when they were read with the viewer (authenticate_with_roles)."""
        self.viewer = viewer
        # Credentials were sent but named no session: say so rather than "sign in first".
        self.token_rejected = viewer is None and token_rejected
        self._org_roles: dict[int, OrgRole] | None = None
        self._worker_roles: dict[int, DatasetRole] | None = None
        if viewer is not None and roles is not None:
            self.use_roles(roles)
        # Sibling resolvers run concurrently: load each cache once, not once per resolver.
        self._loading = asyncio.Lock()

    def require_viewer(self) -> User:
        if self.viewer is None:
            raise Unauthenticated(INVALID_TOKEN if self.token_rejected else SIGN_IN_FIRST)
        return self.viewer

    def forget(self) -> None:
        """Drop cached roles after a change to memberships or workers."""
        self._org_roles = None
        self._worker_roles = None

    async def _load(self) -> None:
        """The viewer's organization and dataset roles, both in one round trip."""
        viewer = self.require_viewer()
        async with self._loading:
            if self._org_roles is None or self._worker_roles is None:
                self.use_roles(await roles_of_user(viewer.id))

    def use_roles(self, rows: list) -> None:
        """Take the viewer's roles from roles_of_user rows read elsewhere (a campaign feed
        reads them once for every subscription of the viewer, after each event)."""
        org_roles, worker_roles = {}, {}
        for scope, key, role in rows:
            if scope == "organization":
                org_roles[key] = OrgRole(role)
            else:
                worker_roles[key] = DatasetRole(role)
        self._org_roles, self._worker_roles = org_roles, worker_roles

    def roles_key(self) -> tuple | None:
        """The viewer's roles as a hashable value (None before they are loaded): two viewers
        with the same key pass every role check alike (subscriptions/shared_results.py)."""
        if self._org_roles is None or self._worker_roles is None:
            return None
        return (tuple(sorted(self._org_roles.items())), tuple(sorted(self._worker_roles.items())))

    def snapshot(self) -> Access:
        """The same viewer with the roles loaded now, unaffected by a later forget or reload."""
        copy = Access(self.viewer)
        if self._org_roles is not None and self._worker_roles is not None:
            copy._org_roles, copy._worker_roles = dict(self._org_roles), dict(self._worker_roles)
        return copy

    async def org_roles(self) -> dict[int, OrgRole]:
        await self._load()
        return self._org_roles

    async def org_role(self, org_id: int) -> OrgRole | None:
        return (await self.org_roles()).get(org_id)

    async def worker_datasets(self) -> frozenset[int]:
        """The datasets where the viewer is listed as a worker."""
        await self._load()
        return frozenset(self._worker_roles)

    async def dataset_role(self, dataset_id: int, org_id: int) -> DatasetRole | None:
        await self._load()
        return effective_dataset_role(self._org_roles.get(org_id), self._worker_roles.get(dataset_id))

    async def role_in(self, scope: Scope, org_id: int, dataset_id: int | None) -> OrgRole | DatasetRole | None:
        if scope is Scope.ORGANIZATION:
            return await self.org_role(org_id)
        assert dataset_id is not None
        return await self.dataset_role(dataset_id, org_id)

    async def check(self, operation: Operation, org_id: int, dataset_id: int | None = None, what: str = "object"):
        """The viewer's role if the policy allows `operation` on the object (the organization, or
        the dataset it belongs to); NOT_FOUND without any role there (`what` names the object
        asked for, so it reads like a missing one), FORBIDDEN for a role outside the entry."""
        role = await self.role_in(operation.scope, org_id, dataset_id)
        if role is None:
            raise NotFound(what)
        if not operation.allows(role):
            raise Forbidden(f"Your role ({role}) does not allow {operation.action}.")
        return role

    async def can(self, operation: Operation, org_id: int, dataset_id: int | None = None) -> bool:
        """Whether `check` would let `operation` through (no error raised)."""
        return operation.allows(await self.role_in(operation.scope, org_id, dataset_id))
