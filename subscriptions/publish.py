"""Publishing domain events, always after the transaction that produced them has committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from stepwise.models.events import IssueChanged, TaskChanged, TasksCreated
from stepwise.subscriptions.bus import Bus
from stepwise.subscriptions.channels import channels_for

logger = logging.getLogger("stepwise.events")


async def publish_committed(bus: Bus | None, events: Iterable[TaskChanged | IssueChanged | TasksCreated]) -> None:
    """Send each event to its channels. The change is already committed: a broker failure is
    logged, never turned into a failed mutation (subscribers catch up from the event log)."""
    if bus is None:
        return
    for event in events:
        message = event.to_message()
        for channel in channels_for(event):
            try:
                await bus.publish(channel, message)
            except Exception:  # the write stands; a lost notification must not undo it
                logger.exception("could not publish %s on %s", type(event).__name__, channel)
