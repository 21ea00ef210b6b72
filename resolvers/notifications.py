"""The viewer's notifications: the list, marking them read (the subscription: subscriptions/notifications.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from stepwise.models.actions import notifications as actions
from stepwise.models.errors import BadRequest
from stepwise.models.queries.notifications import notifications_page
from stepwise.permissions.graphql import guard
from stepwise.permissions.operations import operation
from stepwise.resolvers.mutations.results import INPUT, payload_of
from stepwise.schema.campaign_inputs import MarkNotificationsReadInput
from stepwise.schema.campaign_payloads import NotificationsPayload
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id, parse_id
from stepwise.schema.pagination import page_size
from stepwise.schema.types.notifications import Notification

LIST, MARK_READ = operation("Query.notifications"), operation("Mutation.markNotificationsRead")


def arg(description: str):
    return strawberry.argument(description=description)


def _position(after: str | None) -> int | None:
    """The id to continue below; an `after` that is not a notification ID is BAD_REQUEST, as any bad cursor."""
    if after is None:
        return None
    parsed = parse_id(after)
    if parsed is None or parsed[0] != "Notification":
        raise BadRequest("`after` must be the ID of a notification of the previous page.")
    return parsed[1]


@strawberry.type(description="Notification lookups.")
class NotificationQueries:
    @strawberry.field(
        description="The viewer's notifications, newest first, a page at a time: pass the ID of the last one "
        "as `after` for the next page.",
        permission_classes=guard(LIST.name),
    )
    async def notifications(
        self,
        info: Info,
        unread_only: Annotated[bool | None, arg("True for only the notifications not marked read yet.")] = False,
        first: Annotated[int | None, arg("How many (0 to 500, default 100; more is BAD_REQUEST).")] = None,
        after: Annotated[str | None, arg("Continue after this notification: the ID of the last one of the previous page.")] = None,
    ) -> list[Notification]:
        viewer = info.context.access.require_viewer()
        limit = page_size(first)
        before = _position(after)
        rows = await notifications_page(viewer.id, bool(unread_only), limit, before)
        return [Notification.from_row(row, info) for row in rows]


@strawberry.type(description="Notifications.")
class NotificationMutations:
    @strawberry.mutation(
        description="Marks some of the viewer's notifications read, all or none (an ID that is not the viewer's "
        "notification is NOT_FOUND); at most 500 at once.",
        permission_classes=guard(MARK_READ.name),
    )
    async def mark_notifications_read(self, info: Info, input: Annotated[MarkNotificationsReadInput, INPUT]) -> NotificationsPayload:
        viewer = info.context.access.require_viewer()
        ids = [decode_id(gid, "Notification") for gid in input.ids]

        async def run() -> NotificationsPayload:
            rows = await actions.mark_read(viewer.id, ids)
            return NotificationsPayload(notifications=[Notification.from_row(row, info) for row in rows])

        return await payload_of(NotificationsPayload, run)
