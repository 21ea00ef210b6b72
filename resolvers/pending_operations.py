"""The notification and subscription operations of the contract, composed into the roots.

Not served in this release: the notification list is empty, and markNotificationsRead and
every subscription answer NOT_IMPLEMENTED (docs/api.md).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from stepwise.models.errors import NotAvailableYet
from stepwise.permissions.graphql import IsAuthenticated
from stepwise.schema.campaign_inputs import (
    MarkNotificationsReadInput,
)
from stepwise.schema.campaign_payloads import (
    NotificationsPayload,
)
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.types.campaigns import CampaignProgress
from stepwise.schema.types.notifications import Notification
from stepwise.schema.types.updates import IssueUpdate, TaskUpdate

AUTH = [IsAuthenticated]
CAMPAIGN_ID = "The campaign's ID."
ORGANIZATION_ID = "The organization's ID; NOT_FOUND unless the viewer is a member."


def arg(description: str):
    return strawberry.argument(description=description)


async def require_member(info: Info, organization_id: strawberry.ID) -> int:
    """The organization's key, or NOT_FOUND when the viewer is not one of its members."""
    org_pk = decode_id(organization_id, "Organization")
    await info.context.access.require_member(org_pk)
    return org_pk


@strawberry.type(description="Notification lookups.")
class NotificationQueries:
    @strawberry.field(description="The viewer's notifications, newest first.", permission_classes=AUTH)
    def notifications(
        self,
        unread_only: Annotated[bool | None, arg("True for only the notifications not marked read yet.")] = False,
    ) -> list[Notification]:
        return []


@strawberry.type(description="Notifications.")
class NotificationMutations:
    @strawberry.mutation(description="Marks some of the viewer's notifications read.", permission_classes=AUTH)
    def mark_notifications_read(
        self, input: Annotated[MarkNotificationsReadInput, arg("The notifications.")]
    ) -> NotificationsPayload:
        raise NotAvailableYet("markNotificationsRead")


@strawberry.type(
    name="Subscription",
    description="Realtime events over the websocket at /graphql; authorization is checked again for every event.",
)
class Subscription:
    @strawberry.subscription(
        description="Every change to a task of the campaign. "
        "LABELER workers receive only changes to tasks that were or became theirs.",
        permission_classes=AUTH,
    )
    async def task_updates(
        self, campaign_id: Annotated[strawberry.ID, arg(CAMPAIGN_ID)]
    ) -> AsyncGenerator[TaskUpdate, None]:
        if True:
            raise NotAvailableYet("taskUpdates")
        yield

    @strawberry.subscription(
        description="Changes to tasks that were or became the viewer's, across the organization.",
        permission_classes=AUTH,
    )
    async def my_task_updates(
        self, organization_id: Annotated[strawberry.ID, arg(ORGANIZATION_ID)]
    ) -> AsyncGenerator[TaskUpdate, None]:
        if True:
            raise NotAvailableYet("myTaskUpdates")
        yield

    @strawberry.subscription(
        description="Issue activity in the campaign. "
        "LABELER workers receive only issues on assets of their own active tasks.",
        permission_classes=AUTH,
    )
    async def issue_updates(
        self, campaign_id: Annotated[strawberry.ID, arg(CAMPAIGN_ID)]
    ) -> AsyncGenerator[IssueUpdate, None]:
        if True:
            raise NotAvailableYet("issueUpdates")
        yield

    @strawberry.subscription(
        description="The current progress at once, then again after every change to it. Not for LABELER workers.",
        permission_classes=AUTH,
    )
    async def campaign_progress(
        self, campaign_id: Annotated[strawberry.ID, arg(CAMPAIGN_ID)]
    ) -> AsyncGenerator[CampaignProgress, None]:
        if True:
            raise NotAvailableYet("campaignProgress")
        yield

    @strawberry.subscription(description="The viewer's new notifications, as they are sent.", permission_classes=AUTH)
    async def notifications(self) -> AsyncGenerator[Notification, None]:
        if True:
            raise NotAvailableYet("notifications")
        yield
