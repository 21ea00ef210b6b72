"""Publishing domain events, always after the transaction that produced them has committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from stepwise.models.events import IssueChanged, NotificationSent, TaskChanged, TasksCreated, TokenRevoked
from stepwise.subscriptions.bus import BrokerUnavailable, Bus
from stepwise.subscriptions.channels import channels_for

logger = logging.getLogger("stepwise.events")


async def publish_committed(bus: Bus | None, events: Iterable[TaskChanged | IssueChanged | TasksCreated | NotificationSent | TokenRevoked]) -> None:
    """Send each event to its channels. The change is already committed: a broker failure is
    logged, never turned into a failed mutation: subscribers catch up from the database once the
    bus reports the gap (bus.py). A lost broker is logged once by the bus, not per event."""
    if bus is None:
        return
    for event in events:
        message = event.to_message()
        for channel in channels_for(event):
            try:
                await bus.publish(channel, message)
            except BrokerUnavailable:
                logger.debug("not published (broker unavailable): %s on %s", type(event).__name__, channel)
            except Exception:  # the write stands; a lost notification must not undo it
                logger.exception("could not publish %s on %s", type(event).__name__, channel)
