"""The `notifications` subscription: the viewer's own channel on the bus (channels.user_notifications),
published after the transaction that wrote the notification committed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from stepwise.models.queries.notifications import latest_notification_id, notification_of_user, notifications_after
from stepwise.resolvers.loaders import Loaders
from stepwise.schema.context import Info
from stepwise.schema.types.notifications import Notification
from stepwise.subscriptions import channels
from stepwise.subscriptions.bus import GAP


async def viewer_notifications(info: Info) -> AsyncIterator[Notification]:
    """Each new notification of the viewer, read from the database by the id the bus carried
    (only the viewer's own: the row is looked up with their id). Where the bus lost messages
    (GAP), the viewer's notifications newer than the subscription are read from the database
    instead; each is delivered once."""
    viewer_id = info.context.access.require_viewer().id
    async with info.context.bus.subscribe(channels.user_notifications(viewer_id)) as messages:
        since = await latest_notification_id(viewer_id)  # subscribed first: nothing falls between
        delivered: set[int] = set()  # a few per campaign and manager: a set is small
        async for message in messages:
            if message is GAP:
                rows = [row for row in await notifications_after(viewer_id, since) if row.id not in delivered]
            else:
                row = await notification_of_user(message["notification_id"], viewer_id)
                rows = [] if row is None or row.id in delivered else [row]  # None: gone meanwhile
            for row in rows:
                delivered.add(row.id)
                info.context.loaders = Loaders()  # fresh rows for each event (the campaign)
                yield Notification.from_row(row, info)
