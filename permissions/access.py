"""The viewer's roles, loaded once per request, and the checks every lookup goes through."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

from stepwise.models.db.accounts import User
from stepwise.models.errors import INVALID_TOKEN, SIGN_IN_FIRST, Forbidden, NotFound, Unauthenticated
from stepwise.models.queries.accounts import roles_of_user
from stepwise.permissions.operations import Operation
from stepwise.permissions.policy import Scope
from stepwise.permissions.roles import DatasetRole, OrgRole, effective_dataset_role


class _Roles:
    """One view of the viewer's roles (None: not loaded yet)."""

    def __init__(self, org: dict[int, OrgRole] | None = None, worker: dict[int, DatasetRole] | None = None) -> None:
        self.org, self.worker = org, worker
        # Sibling resolvers run concurrently: load each view once, not once per resolver.
        self.loading = asyncio.Lock()


# The roles of one websocket operation (Access.per_operation): each runs in a task of its own,
# so a value set here is seen by that operation alone.
_operation_roles: ContextVar[tuple[Access, _Roles] | None] = ContextVar("stepwise_operation_roles", default=None)


class Access:
    """What the current viewer may see and do. One cached query answers every check."""

    def __init__(self, viewer: User | None, token_rejected: bool = False, roles: list | None = None) -> None:
        """`roles`: the viewer's role rows when they were read with the viewer (authenticate_with_roles)."""
        self.viewer = viewer
        # Credentials were sent but named no session: say so rather than "sign in first".
        self.token_rejected = viewer is None and token_rejected
        self._shared = _Roles()
        if viewer is not None and roles is not None:
            self.use_roles(roles)

    @property
    def _roles(self) -> _Roles:
        scoped = _operation_roles.get()
        return scoped[1] if scoped is not None and scoped[0] is self else self._shared

    def per_operation(self, fresh: bool = False) -> None:
        """From here on in the current task, the roles this Access reads, is given (use_roles) or
        forgets are the task's own. A websocket's operations share its Access, each in a task of
        its own: a subscription that takes the roles a feed read for its batch must not hand them
        to a sibling that is at another event. `fresh`: start unloaded, so the operation's checks
        read the roles as they are now (subscriptions/sockets.py, as each operation starts: roles
        loaded on the socket's shared view would never be refreshed). Otherwise start from the
        roles loaded now, and do nothing if the task has its own already."""
        scoped = _operation_roles.get()
        if scoped is not None and scoped[0] is self and not fresh:
            return
        current = _Roles() if fresh else self._roles
        own = _Roles(None if current.org is None else dict(current.org),
                     None if current.worker is None else dict(current.worker))
        _operation_roles.set((self, own))

    def require_viewer(self) -> User:
        if self.viewer is None:
            raise Unauthenticated(INVALID_TOKEN if self.token_rejected else SIGN_IN_FIRST)
        return self.viewer

    def forget(self) -> None:
        """Drop cached roles after a change to memberships or workers."""
        roles = self._roles
        roles.org = roles.worker = None

    async def _load(self) -> _Roles:
        """The viewer's organization and dataset roles, both in one round trip."""
        viewer = self.require_viewer()
        roles = self._roles
        async with roles.loading:
            if roles.org is None or roles.worker is None:
                self.use_roles(await roles_of_user(viewer.id))
        return roles

    def use_roles(self, rows: list) -> None:
        """Take the viewer's roles from roles_of_user rows read elsewhere (a campaign feed
        reads them once for every subscription of the viewer, after each event)."""
        org_roles, worker_roles = {}, {}
        for scope, key, role in rows:
            if scope == "organization":
                org_roles[key] = OrgRole(role)
            else:
                worker_roles[key] = DatasetRole(role)
        roles = self._roles
        roles.org, roles.worker = org_roles, worker_roles

    def roles_key(self) -> tuple | None:
        """The viewer's roles as a hashable value (None before they are loaded): two viewers
        with the same key pass every role check alike (subscriptions/shared_results.py)."""
        roles = self._roles
        if roles.org is None or roles.worker is None:
            return None
        return (tuple(sorted(roles.org.items())), tuple(sorted(roles.worker.items())))

    def snapshot(self) -> Access:
        """The same viewer with the roles loaded now, unaffected by a later forget or reload."""
        copy, roles = Access(self.viewer), self._roles
        if roles.org is not None and roles.worker is not None:
            copy._shared = _Roles(dict(roles.org), dict(roles.worker))
        return copy

    async def org_roles(self) -> dict[int, OrgRole]:
        return (await self._load()).org

    async def org_role(self, org_id: int) -> OrgRole | None:
        return (await self.org_roles()).get(org_id)

    async def worker_datasets(self) -> frozenset[int]:
        """The datasets where the viewer is listed as a worker."""
        return frozenset((await self._load()).worker)

    async def dataset_role(self, dataset_id: int, org_id: int) -> DatasetRole | None:
        roles = await self._load()
        return effective_dataset_role(roles.org.get(org_id), roles.worker.get(dataset_id))

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
