"""The notification job: every STEPWISE_NOTIFICATION_INTERVAL_SECONDS, write the notifications
due now (models/actions/notifications.py) and publish them after commit. Every server process
runs it; the database's unique (user, campaign, kind) keeps each notification single."""

from __future__ import annotations

import asyncio
import logging

from stepwise.models import clock
from stepwise.models.actions.notifications import send_due_notifications
from stepwise.models.events import NotificationSent
from stepwise.subscriptions.bus import Bus
from stepwise.subscriptions.publish import publish_committed

logger = logging.getLogger("stepwise.notifications")


async def notify_due(bus: Bus | None) -> list[NotificationSent]:
    """One tick: what is due at the clock's now, written, then published. Tests call it directly."""
    sent = await send_due_notifications(clock.now())
    await publish_committed(bus, sent)
    return sent


async def run_notifier(bus: Bus, interval_seconds: float) -> None:
    """Tick until cancelled (the lifespan's end). A failed tick is logged and the next one retries:
    nothing was written by it, and what it would have sent is still due."""
    while True:
        # Sleep first: start-up stays quiet, and a restarted server catches up one interval later.
        await asyncio.sleep(interval_seconds)
        try:
            await notify_due(bus)
        except Exception:  # a database hiccup must not end the job for the process's lifetime
            logger.exception("sending due notifications failed; retrying in %g s", interval_seconds)
