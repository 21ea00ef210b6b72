"""Campaign progress for its subscribers: computed once per campaign per burst of changes and
shared by every `campaignProgress` subscriber of the campaign in this process.

One feed per campaign while it has subscribers: it listens to the campaign's channel and, when a
change may move a count, computes the progress, publishes it to its subscribers, then waits
COALESCE_SECONDS before computing again. So the first change of a burst is pushed at once, a
burst gives at most one push per COALESCE_SECONDS, and the last push is computed after the last
change: it ends on the latest value. A slow subscriber skips to the latest value.

Subscribers check their access again at every event the feed hears. The roles they check are
read once for all of the feed's viewers, after the event committed and before the subscribers
wake (one statement, however many subscribers); a viewer the read missed reads their own.

Over this server's websockets, a push is also executed and serialized once per group of
subscribers with the same document (subscriptions/shared_results.py: group_key, Delivery) and
sent to each in its own envelope.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from stepwise.models.queries.accounts import roles_of_users
from stepwise.models.queries.campaigns import campaign_by_id
from stepwise.models.queries.tasks import campaign_progress
from stepwise.models.workflow import COUNT_NEUTRAL_EVENTS
from stepwise.resolvers.loaders import Loaders
from stepwise.subscriptions import channels
from stepwise.schema.types.campaigns import progress_from
from stepwise.subscriptions.bus import Bus, Gap, until_registered
from stepwise.subscriptions.shared_futures import shared_result
from stepwise.subscriptions.shared_results import Delivery, FanoutStats, group_key, serialized

COALESCE_SECONDS = 0.1
logger = logging.getLogger("stepwise.events")
_FEEDS: weakref.WeakKeyDictionary[Bus, dict[int, ProgressFeed]] = weakref.WeakKeyDictionary()


def moves_progress(message: dict | Gap) -> bool:
    """Whether progress may have changed: a range of new tasks, lost messages (GAP), or a task
    event that changes counts (not started, saved, reassigned)."""
    if isinstance(message, Gap) or message["type"] == "range":
        return True
    return message["type"] == "task" and message["kind"] not in COUNT_NEUTRAL_EVENTS


class ProgressFeed:
    """The shared progress of one campaign: `version` grows with each computed value."""

    def __init__(self, bus: Bus, campaign_id: int) -> None:
        self.campaign_id = campaign_id
        self.version = 0
        self.events = 0  # every event heard, count-neutral ones too: subscribers re-check access on each
        self.value: tuple[list, object] | None = None  # (steps, Progress)
        self.subscribers = 0
        self._viewers: Counter[int] = Counter()  # the subscribed users, by their subscriptions
        self._roles: dict[int, list] = {}  # their roles, read after the latest event heard
        self._payloads: dict[tuple, asyncio.Future] = {}  # (version, group) -> serialized push
        self._published = asyncio.Condition()
        self._listening = asyncio.Event()
        self._task = asyncio.create_task(self._run(bus))

    async def next_after(self, version: int) -> tuple[int, tuple[list, object]]:
        """The latest value once it is newer than `version`."""
        async with self._published:
            await self._published.wait_for(lambda: self.version > version)
            return self.version, self.value

    async def next_event_after(self, version: int, events: int) -> tuple[int, int]:
        """(version, events) once either passed the given ones: a new value, or any event at all
        (after which a subscriber checks it may still see the progress)."""
        async with self._published:
            await self._published.wait_for(lambda: self.version > version or self.events > events)
            return self.version, self.events

    async def deliver(self, delivery: Delivery, info, version: int, stats: FanoutStats) -> None:
        """Send this subscriber the push of `version` (the latest value, taken with it), executed
        once for every subscriber of its group: the first to ask executes it with a snapshot of
        its roles, as a task of its own (one that leaves does not cancel it for the others)."""
        group = group_key(delivery, info.context.access)
        if group is None:
            raise RuntimeError("shared progress push before the viewer's roles were loaded")
        key = (version, group)
        payload = self._payloads.get(key)
        if payload is None:
            if any(v != version for v, _ in self._payloads):  # only the latest value is pushed
                self._payloads = {k: p for k, p in self._payloads.items() if k[0] == version}
            context = replace(info.context, access=info.context.access.snapshot(), loaders=Loaders())
            payload = self._payloads[key] = asyncio.ensure_future(
                serialized(delivery, context, progress_from(*self.value), stats))
            payload.add_done_callback(lambda done: self._forget_if_failed(key, done))
        await delivery.send(await shared_result(payload), stats)

    def _forget_if_failed(self, key: tuple, payload: asyncio.Future) -> None:
        if (payload.cancelled() or payload.exception() is not None) and self._payloads.get(key) is payload:
            del self._payloads[key]

    def roles_of(self, user_id: int) -> list | None:
        """The user's roles (roles_of_user rows) as read after the latest event heard, or None if
        that read did not include them (then they read their own)."""
        return self._roles.get(user_id)

    async def _read_roles(self) -> None:
        """Before waking the subscribers for an event that has committed: every subscribed
        viewer's roles, in one read. A failed read is only logged (each then reads its own)."""
        self._roles = {}  # never older than the event: a read that fails leaves none
        if not self._viewers:
            return
        try:
            self._roles = await roles_of_users(sorted(self._viewers))
        except Exception:  # noqa: BLE001 - the subscribers' own reads report it
            logger.warning("campaign %s progress: could not read its viewers' roles", self.campaign_id)

    async def _heard(self) -> None:
        await self._read_roles()
        async with self._published:
            self.events += 1
            self._published.notify_all()

    async def listening(self) -> None:
        await until_registered(self._listening, self._task)

    async def _run(self, bus: Bus) -> None:
        changed = asyncio.Event()
        async with bus.subscribe(channels.campaign_events(self.campaign_id)) as messages:
            self._listening.set()

            async def watch() -> None:
                async for message in messages:
                    if moves_progress(message):
                        changed.set()
                    else:
                        await self._heard()

            watching = asyncio.create_task(watch())
            try:
                while True:
                    await changed.wait()
                    changed.clear()
                    await self._compute()
                    await asyncio.sleep(COALESCE_SECONDS)
            finally:
                watching.cancel()

    async def _compute(self) -> None:
        try:
            campaign = await campaign_by_id(self.campaign_id)
            steps = await Loaders().steps_by_campaign.load(self.campaign_id)
            value = (steps, await campaign_progress(campaign, steps))
        except Exception:  # e.g. the campaign was deleted: keep the feed, log, try on the next change
            logger.exception("could not compute the progress of campaign %s", self.campaign_id)
            return
        await self._read_roles()
        async with self._published:
            self.version += 1
            self.value = value
            self._published.notify_all()

    def close(self) -> None:
        self._task.cancel()


@asynccontextmanager
async def progress_feed(bus: Bus, campaign_id: int, viewer_id: int | None = None) -> AsyncIterator[ProgressFeed]:
    """The campaign's shared feed, listening on the bus on entry (so a change committed after
    entry is pushed); closed when its last subscriber leaves. `viewer_id`: whose roles the feed
    reads at each event (ProgressFeed.roles_of)."""
    feeds = _FEEDS.setdefault(bus, {})
    feed = feeds.get(campaign_id)
    if feed is None:
        feed = feeds[campaign_id] = ProgressFeed(bus, campaign_id)
    feed.subscribers += 1
    if viewer_id is not None:
        feed._viewers[viewer_id] += 1
    try:
        await feed.listening()
        yield feed
    finally:
        feed.subscribers -= 1
        if viewer_id is not None:
            feed._viewers -= Counter({viewer_id: 1})  # gone at zero
        if feed.subscribers == 0 and feeds.get(campaign_id) is feed:
            del feeds[campaign_id]
            feed.close()
