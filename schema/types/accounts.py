"""People and organizations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from stepwise.models import clock
from stepwise.models.db import accounts as db
from stepwise.models.db.datasets import Dataset as DatasetModel
from stepwise.permissions.graphql import guard
from stepwise.models.workflow import CampaignStatus
from stepwise.resolvers.fields.accounts import (
    organization_campaigns,
    organization_datasets,
    organization_invitations,
    organization_members,
    user_email,
    viewer_org_role,
)
from stepwise.resolvers.fields.common import row_by_id
from stepwise.resolvers.fields.event_log import organization_event_positions
from stepwise.schema.context import Info
from stepwise.schema.event_cursors import organization_cursor
from stepwise.schema.ids import encode_id
from stepwise.schema.pagination import decode_cursor, page_size
from stepwise.schema.types.common import Node
from stepwise.schema.types.enums import OrgRole

if TYPE_CHECKING:
    from stepwise.schema.types.datasets import Dataset

DatasetRef = Annotated["Dataset", strawberry.lazy("stepwise.schema.types.datasets")]
CampaignConnectionRef = Annotated["CampaignConnection", strawberry.lazy("stepwise.schema.types.campaign_list")]


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
        return await user_email(info, self.row)


def user_or_none(row: db.User | None) -> User | None:
    """The User of a row fetched by id (resolvers/fields/common.py), None when there is none."""
    return User.from_row(row) if row else None


def users_or_none(rows: list[db.User | None]) -> list[User | None]:
    return [user_or_none(row) for row in rows]


async def load_user(info: Info, user_id: int | None) -> User | None:
    """For root resolvers (subscriptions): the user of an id, fetched and wrapped."""
    return user_or_none(await row_by_id(info, db.User, user_id))


@strawberry.type(description="A person's place in an organization.")
class Membership:
    row: strawberry.Private[db.Membership]

    @strawberry.field(description="The member.")
    async def user(self, info: Info) -> User:
        return user_or_none(await row_by_id(info, db.User, self.row.user_id))

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
    # The log positions `organization(id:)` read before its data, for eventCursor (None: read them then).
    event_positions: strawberry.Private[dict[int, int] | None] = None

    @classmethod
    def from_row(cls, row: db.Organization, event_positions: dict[int, int] | None = None) -> Organization:
        return cls(id=encode_id("Organization", row.id), row=row, event_positions=event_positions)

    async def scope(self, info: Info) -> tuple[int, None]:
        return self.row.id, None

    @strawberry.field(description="The organization's name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="The viewer's own role in this organization.")
    async def viewer_role(self, info: Info) -> OrgRole:
        return await viewer_org_role(info, self.row.id)

    @strawberry.field(
        description="Members of the organization, oldest first. Not visible to UNPRIVILEGED members (FORBIDDEN).",
        permission_classes=guard("Organization.members"),
    )
    async def members(self, info: Info) -> list[Membership]:
        rows = await organization_members(info, self.row.id)
        return [Membership(row=row) for row in rows]

    @strawberry.field(description="Datasets the viewer can see, by name (none for UNPRIVILEGED members).")
    async def datasets(self, info: Info) -> list[DatasetRef]:
        from stepwise.schema.types.datasets import Dataset

        rows: list[DatasetModel] = await organization_datasets(info, self.row.id)
        return [Dataset.from_row(r) for r in rows]

    @strawberry.field(
        description="Pending e-mail invitations, oldest first. ADMIN only (FORBIDDEN otherwise).",
        permission_classes=guard("Organization.invitations"),
    )
    async def invitations(self, info: Info) -> list[Invitation]:
        rows = await organization_invitations(info, self.row.id)
        return [Invitation(row=row) for row in rows]

    @strawberry.field(
        description="Campaigns the viewer can open with `campaign`, newest first, a page at a time: all of the "
        "organization's for ADMINs, those of the datasets they work on for others (LABELER workers included; "
        "their lists and figures stay FORBIDDEN to them).",
        permission_classes=guard("Organization.campaigns"),
    )
    async def campaigns(
        self,
        info: Info,
        status: Annotated[
            CampaignStatus | None,
            strawberry.argument(description="Only campaigns in this status as `Campaign.status` shows it (OVERDUE included)."),
        ] = None,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 500 (default 100); more than 500 is BAD_REQUEST.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="An `endCursor` of a previous page, to continue after it.")
        ] = None,
    ) -> CampaignConnectionRef:
        from stepwise.schema.types.campaign_list import campaign_connection

        now = clock.now()  # one moment for the page and its count
        size, before_id = page_size(first), decode_cursor(after)
        rows, has_next = await organization_campaigns(info, self.row.id, status, now, size, before_id)
        return campaign_connection(self.row.id, status, now, after, rows, has_next)

    @strawberry.field(
        description="The position of the organization's latest task events (one per campaign), read before the "
        "rest of this query's data (under `organization(id:)`): subscribe to myTaskUpdates with "
        "`after: eventCursor` to receive every later change, none missed; see `Campaign.eventCursor`.",
        permission_classes=guard("Organization.eventCursor"),
    )
    async def event_cursor(self, info: Info) -> str:
        return organization_cursor(self.row.id, await organization_event_positions(info, self.row.id, self.event_positions))
