"""The `notifications` subscription: the viewer's own channel on the bus (channels.user_notifications),
published after the transaction that wrote the notification committed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from stepwise.models.queries.notifications import notification_of_user
from stepwise.resolvers.loaders import Loaders
from stepwise.schema.context import Info
from stepwise.schema.types.notifications import Notification
from stepwise.subscriptions import channels
from stepwise.subscriptions.bus import GAP, SlowConsumer


async def viewer_notifications(info: Info) -> AsyncIterator[Notification]:
    """Each new notification of the viewer, read from the database by the id the bus carried
    (only the viewer's own: the row is looked up with their id)."""
    viewer_id = info.context.access.require_viewer().id
    async with info.context.bus.subscribe(channels.user_notifications(viewer_id)) as messages:
        async for message in messages:
            if message is GAP:  # notifications were lost on the way: refetch `notifications`
                raise SlowConsumer()
            row = await notification_of_user(message["notification_id"], viewer_id)
            if row is not None:  # gone meanwhile (the viewer left the dataset)
                info.context.loaders = Loaders()  # fresh rows for each event (the campaign)
                yield Notification.from_row(row, info)
