"""People and organizations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from stepwise.models.db import accounts as db
from stepwise.models.db.datasets import Dataset as DatasetModel
from stepwise.permissions.graphql import guard
from stepwise.permissions.operations import operation
from stepwise.schema.context import Info
from stepwise.schema.ids import encode_id
from stepwise.schema.types.common import Node
from stepwise.schema.types.enums import OrgRole

if TYPE_CHECKING:
    from stepwise.schema.types.datasets import Dataset

DatasetRef = Annotated["Dataset", strawberry.lazy("stepwise.schema.types.datasets")]
USER_EMAIL = operation("User.email")
# Organization.datasets lists the datasets Query.dataset would answer.
OPEN_DATASET = operation("Query.dataset")


@strawberry.type(description="A person with an account.")
class User(Node):
    row: strawberry.Private[db.User]
    username: str = strawberry.field(description="The unique sign-in name.")

    @classmethod
    def from_row(cls, row: db.User) -> User:
        return cls(id=encode_id("User", row.id), row=row, username=row.username)

    @strawberry.field(
        description="Visible to the user themself and to admins of an organization they belong to; null otherwise."
    )
    async def email(self, info: Info) -> str | None:
        access = info.context.access
        if access.viewer is not None and access.viewer.id == self.row.id:
            return self.row.email
        their_orgs = await info.context.loaders.memberships_by_user.load(self.row.id)
        for membership in their_orgs:
            if await access.can(USER_EMAIL, membership.organization_id):
                return self.row.email
        return None


async def load_user(info: Info, user_id: int | None) -> User | None:
    row = await info.context.loaders.get(db.User, user_id)
    return User.from_row(row) if row else None


async def load_users(info: Info, user_ids: list[int | None]) -> list[User | None]:
    """Several users in one batch (awaiting load_user in a loop would send one query each)."""
    wanted = [i for i in user_ids if i is not None]
    rows = {row.id: row for row in await info.context.loaders.by_id(db.User).load_many(wanted) if row}
    return [User.from_row(rows[i]) if i in rows else None for i in user_ids]


@strawberry.type(description="A person's place in an organization.")
class Membership:
    row: strawberry.Private[db.Membership]

    @strawberry.field(description="The member.")
    async def user(self, info: Info) -> User:
        return await load_user(info, self.row.user_id)

    @strawberry.field(description="Their role in the organization.")
    def role(self) -> OrgRole:
        return self.row.role

    @strawberry.field(description="When they joined.")
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type(description="An e-mail address invited to join; it becomes a membership at sign-up.")
class Invitation:
    row: strawberry.Private[db.Invitation]

    @strawberry.field(description="The invited address.")
    def email(self) -> str:
        return self.row.email

    @strawberry.field(description="The role they will have.")
    def role(self) -> OrgRole:
        return self.row.role

    @strawberry.field(description="When the invitation was sent.")
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type(description="A team: its members share datasets and campaigns.")
class Organization(Node):
    row: strawberry.Private[db.Organization]

    @classmethod
    def from_row(cls, row: db.Organization) -> Organization:
        return cls(id=encode_id("Organization", row.id), row=row)

    async def scope(self, info: Info) -> tuple[int, None]:
        return self.row.id, None

    @strawberry.field(description="The organization's name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="The viewer's own role in this organization.")
    async def viewer_role(self, info: Info) -> OrgRole:
        return await info.context.access.org_role(self.row.id)

    @strawberry.field(
        description="Members of the organization, oldest first. Not visible to UNPRIVILEGED members (FORBIDDEN).",
        permission_classes=guard("Organization.members"),
    )
    async def members(self, info: Info) -> list[Membership]:
        rows = await info.context.loaders.memberships_by_organization.load(self.row.id)
        return [Membership(row=row) for row in rows]

    @strawberry.field(description="Datasets the viewer can see, by name (none for UNPRIVILEGED members).")
    async def datasets(self, info: Info) -> list[DatasetRef]:
        from stepwise.schema.types.datasets import Dataset

        rows: list[DatasetModel] = await info.context.loaders.datasets_by_organization.load(self.row.id)
        access = info.context.access
        return [Dataset.from_row(r) for r in rows if await access.can(OPEN_DATASET, r.organization_id, r.id)]

    @strawberry.field(
        description="Pending e-mail invitations, oldest first. ADMIN only (FORBIDDEN otherwise).",
        permission_classes=guard("Organization.invitations"),
    )
    async def invitations(self, info: Info) -> list[Invitation]:
        rows = await info.context.loaders.invitations_by_organization.load(self.row.id)
        return [Invitation(row=row) for row in rows]
