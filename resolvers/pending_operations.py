"""The notification operations of the contract, composed into the roots.

Not served in this release: the notification list is empty and markNotificationsRead answers
NOT_IMPLEMENTED (docs/api.md).
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from stepwise.models.errors import NotAvailableYet
from stepwise.permissions.graphql import guard
from stepwise.schema.campaign_inputs import (
    MarkNotificationsReadInput,
)
from stepwise.schema.campaign_payloads import (
    NotificationsPayload,
)
from stepwise.schema.types.notifications import Notification

def arg(description: str):
    return strawberry.argument(description=description)


@strawberry.type(description="Notification lookups.")
class NotificationQueries:
    @strawberry.field(description="The viewer's notifications, newest first.", permission_classes=guard("Query.notifications"))
    def notifications(
        self,
        unread_only: Annotated[bool | None, arg("True for only the notifications not marked read yet.")] = False,
    ) -> list[Notification]:
        return []


@strawberry.type(description="Notifications.")
class NotificationMutations:
    @strawberry.mutation(description="Marks some of the viewer's notifications read.", permission_classes=guard("Mutation.markNotificationsRead"))
    def mark_notifications_read(
        self, input: Annotated[MarkNotificationsReadInput, arg("The notifications.")]
    ) -> NotificationsPayload:
        raise NotAvailableYet("markNotificationsRead")
