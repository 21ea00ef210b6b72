"""A subscriber's position in the event logs it follows, and how it moves.

In step with a log (the bus message's seq is the next one), the event comes from the bus
message: no query. Behind (a resume with `after:`, a seq it did not receive, a GAP from the
bus, a range of CREATED from a launch), it pages through the log from its position with keyset
reads, as fast as its client reads, then goes back to the bus. Bus messages at or before the
position are ones it has already delivered from the log: skipped. So nothing is lost or sent
twice, and what waits for a slow client is at most the bus's bounded queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing

from stepwise.models.queries.event_log import PAGE, log_page
from stepwise.subscriptions.bus import Bus, Gap

Batch = list[dict]


class LogPosition:
    """Where a subscriber is in each campaign log it follows (seq delivered up to)."""

    def __init__(self, organization_id: int, positions: dict[int, int], *, behind: bool,
                 known_campaigns: Callable[[], Awaitable[dict[int, int]]] | None = None,
                 follows: Callable[[dict], Awaitable[bool]] | None = None,
                 read_page: Callable[[int, int], Awaitable[Batch]] | None = None) -> None:
        self.organization_id = organization_id
        self.positions = dict(positions)
        self._behind = set(positions) if behind else set()
        # The organization's stream follows only some of its campaigns (those where the viewer
        # can have tasks): `known_campaigns` lists them now, `follows` says whether a campaign
        # not followed yet has joined them, given one of its messages (skipped until then).
        self._known_campaigns = known_campaigns
        self._follows = follows
        # (campaign, seq) -> the page after it: the log's own read, or one shared (org_reads.py).
        self._read_page = read_page or (lambda campaign_id, seq: log_page(organization_id, campaign_id, seq))

    async def follow(self, messages: AsyncIterator[dict | Gap]) -> AsyncIterator[Batch]:
        """Batches of events in log order, each to be authorized after the viewer's roles are
        reloaded: one bus message, or one page of a log."""
        while True:
            while self._behind:
                campaign_id = min(self._behind)
                self.positions.setdefault(campaign_id, 0)
                page = await self._read_page(campaign_id, self.positions.get(campaign_id, 0))
                if len(page) < PAGE:
                    self._behind.discard(campaign_id)
                if page:
                    yield page
                    self.positions[campaign_id] = max(self.positions[campaign_id], page[-1]["seq"])
            message = await anext(messages)
            if isinstance(message, Gap):  # messages were lost: every log may have moved
                await self._all_behind()
                continue
            campaign_id = message["campaign_id"]
            if campaign_id not in self.positions:
                if self._follows is not None and not await self._follows(message):
                    continue  # a campaign where this viewer has nothing to hear
                # Joins at this message: nothing before it could concern the viewer (a GAP reads
                # the whole log of a campaign that joined unseen).
                first = message["first_seq"] if message["type"] == "range" else message["seq"]
                self.positions[campaign_id] = first - 1 if self._follows is not None else 0
            position = self.positions[campaign_id]
            if message["type"] == "range":
                if message["last_seq"] > position:  # read from the log, at this subscriber's pace
                    self._behind.add(campaign_id)
            elif message["seq"] == position + 1:
                yield [message]
                self.positions[campaign_id] = max(self.positions[campaign_id], message["seq"])
            elif message["seq"] > position:  # a seq was missed: it is in the log
                self._behind.add(campaign_id)

    def delivered(self, message: dict) -> None:
        """The consumer is done with this event (yielded or not for its viewer)."""
        self.positions[message["campaign_id"]] = message["seq"]

    async def _all_behind(self) -> None:
        if self._known_campaigns is not None:
            for campaign_id in await self._known_campaigns():
                self.positions.setdefault(campaign_id, 0)
        self._behind = set(self.positions)


async def follow_log(bus: Bus, channel: str, start: Callable[[], Awaitable[LogPosition]],
                     refresh: Callable[[Batch], Awaitable[None]]) -> AsyncIterator[tuple[LogPosition, Batch, dict]]:
    """The one "follow the log" loop of the update subscriptions: registered on `channel` first,
    then `start()` reads the position (so nothing committed in between is missed); each batch is
    announced to `refresh` (reload roles and loaders) before its events come out one by one,
    each with its batch and already counted as delivered. Use it under `aclosing`: leaving the loop early closes
    the inner generators at once, so the bus registration ends with the subscription."""
    async with bus.subscribe(channel) as messages, aclosing(messages):
        position = await start()
        async with aclosing(position.follow(messages)) as batches:
            async for batch in batches:
                await refresh(batch)
                for message in batch:
                    position.delivered(message)
                    yield position, batch, message
