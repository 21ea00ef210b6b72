"""Campaign feeds: the fan-out shared by every local subscriber of a campaign's log.

One feed per campaign with local subscribers (taskUpdates, issueUpdates), whatever their number:
- it alone is registered on the campaign's bus channel, and learns from it how far the log goes
  (`known`): a message's seq, a range's last seq, or after a GAP one read of the log's position;
- a page of the log (the events after a seq) is read once for all: subscribers at the same
  position share the read, and an event that came in step on the bus is its own page, no read;
  pages are kept in a small LRU (CACHE_PAGES), so memory is bounded whatever the subscribers do;
- the task and issue rows an event's subscribers need are loaded once per event, not per
  subscriber: a row serves an event only if it was read after that event committed (never older
  than the event); for a viewer whose view of a task hangs on its row (a LABELER), only if it was
  read after every event the process knows of (a page of the log read late must not show them a
  task as it was before a reassign that has committed since);
- before an event that came in step is handed out, the roles of the users who asked lately, or
  who have a subscriber parked in step, are read once (after it committed): their subscribers
  find the read done, with no wait each;
- then the feed's send loop (send_loop.py) delivers that event to the subscribers parked in
  step, without waking their resolvers; the others wake as before.

Each subscriber keeps only its position. In step, it takes the next page from the cache; a slow
one that fell out of it reads its own pages from the log at its own pace (then shares again
with whoever is at its position). Nothing waits in a queue per subscriber, nothing is lost (the
log has every event), nothing comes twice (positions only move forward).

Visibility stays per subscriber (permissions/visibility.py, in subscriptions/fields.py): the feed
hands out events and rows, never decides who sees them. Once a subscriber may see an event, the
feed's `results` (subscriptions/shared_results.py) give it the payload executed once for every
subscriber of its group.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, aclosing, asynccontextmanager

from stepwise.models.queries.event_log import log_page, log_position
from stepwise.models.queries.accounts import roles_of_users, user_rows_by_id
from stepwise.models.queries.issues import issue_rows_by_id
from stepwise.models.queries.rows import in_list, task_rows
from stepwise.subscriptions import channels
from stepwise.subscriptions.bus import Bus, Gap
from stepwise.subscriptions.send_loop import InStep, park, send_in_step, wake_the_members_behind
from stepwise.subscriptions.shared_futures import shared_result
from stepwise.subscriptions.shared_results import FanoutStats, SharedResults

logger = logging.getLogger("stepwise.feeds")

CACHE_PAGES = 256  # pages (or single live events) kept per campaign feed
# Rows kept per feed and kind, the least recently used dropped first: enough for the pages in
# flight (200 events each), small enough that a process with many live feeds stays small.
MAX_SHARED_ROWS = 1_000
# Users whose roles a live event's read takes ahead of waking its subscribers (those who asked
# since either of the two previous live events, most recent first): their subscriptions then
# find the read done instead of each waiting on it (one future and two callbacks per
# subscription per event, measured as a quarter of the per-subscriber cost with 1,000).
PREFETCH_ROLES = 64

Batch = list[dict]


class CampaignFeed:
    def __init__(self, bus: Bus, organization_id: int, campaign_id: int, stats: FanoutStats) -> None:
        self.bus = bus
        self.organization_id = organization_id
        self.campaign_id = campaign_id
        self.known = 0  # the highest seq this process knows to be committed
        self.users = 0
        self.ready = asyncio.Event()
        self.failed = False  # start() failed or was abandoned: whoever waited for it opens a new one
        self._changed = asyncio.Event()  # replaced at each change: whoever holds the old one wakes
        self._pages: OrderedDict[int, asyncio.Future] = OrderedDict()
        # Users who asked roles_of since the last live event, and between the two before it (two
        # generations: events in quick succession come before the subscribers ask again).
        self._askers: dict[int, None] = {}
        self._asked_before: dict[int, None] = {}
        self._tasks, self._issues, self._users, self._roles = SharedReads(), SharedReads(), SharedReads(), SharedReads()
        self.results = SharedResults(stats)  # one execution per group of subscribers per event
        self._stack = AsyncExitStack()
        self._pump: asyncio.Task | None = None
        self.parked: dict[InStep, None] = {}  # subscribers parked in step, in the order they came (send_loop.py)

    # --- lifetime (Feeds below) -----------------------------------------------------------

    async def start(self) -> None:
        """Registered on the bus first, then the position read: nothing committed in between is missed."""
        messages = await self._stack.enter_async_context(self.bus.subscribe(channels.campaign_events(self.campaign_id)))
        await self._stack.enter_async_context(aclosing(messages))
        self._advance(await log_position(self.campaign_id))
        self._pump = asyncio.create_task(self._follow_bus(messages))

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        await self._stack.aclose()
        for page in self._pages.values():
            page.cancel()

    async def _follow_bus(self, messages: AsyncIterator[dict | Gap]) -> None:
        async for message in messages:
            try:
                if isinstance(message, Gap):  # messages were lost: the log says how far it goes
                    self._advance(await log_position(self.campaign_id))
                elif message["type"] == "range":
                    self._advance(message["last_seq"])
                else:
                    self._remember(message["seq"] - 1, [message])  # in step: the event is its own page
                    await self._prefetch_roles(message)
                    await send_in_step(self, message)  # to the parked members, before the others wake
                    self._advance(message["seq"])
            except Exception:  # the database failed us: the next message (or GAP) tries again
                logger.exception("campaign %s feed: could not read the log's position", self.campaign_id)

    async def _prefetch_roles(self, message: dict) -> None:
        """Before its subscribers wake for a live event: the roles of the users who asked for
        them lately, read once after this one committed (as roles_of would). A user who left
        is read at most twice more. A failed read is only logged: each subscription then reads
        (and fails) on its own."""
        parked = {member.viewer.id: None for member in self.parked}
        users = list({**parked, **self._asked_before, **self._askers})[-PREFETCH_ROLES:]
        self._asked_before, self._askers = self._askers, {}
        if not users:
            return
        try:
            await self._roles.get(dict.fromkeys(users, message["seq"]), self._mark([message]), _roles_by_user)
        except Exception:  # noqa: BLE001 - the subscribers' own reads report it
            logger.warning("campaign %s feed: could not read roles ahead of event %s", self.campaign_id, message["seq"])

    def _advance(self, seq: int) -> None:
        if seq > self.known:
            self.known = seq
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()
            wake_the_members_behind(self)

    # --- what subscribers read ---------------------------------------------------------------

    async def batches(self, position: int, member: InStep | None = None) -> AsyncIterator[Batch]:
        """The events after `position`, in order, one page at a time, forever. The consumer is
        done with a page when it asks for the next one. With a `member`, a consumer that has read
        all the feed knows of parks in the send loop (send_loop.py), which may deliver events
        for it: it goes on from wherever the loop hands it back."""
        while True:
            changed = self._changed  # taken before looking: a change after the look wakes it
            if position < self.known:
                page = await self.page_after(position)
                if page:
                    yield page
                    position = page[-1]["seq"]
                    continue
            if member is not None and position >= self.known:
                position = await park(self, member, position)
                continue
            await changed.wait()

    async def page_after(self, seq: int) -> Batch:
        """The events after `seq` (at most a page), read from the log once for every subscriber
        at that position. A read is not tied to the subscriber that started it: one that goes
        away does not cancel it for the others."""
        page = self._pages.get(seq)
        if page is None:
            page = asyncio.ensure_future(log_page(self.organization_id, self.campaign_id, seq))
            self._pages[seq] = page
            page.add_done_callback(lambda done: self._forget_unless_useful(seq, done))
            self._trim()
        else:
            self._pages.move_to_end(seq)
        return await shared_result(page)

    async def task_rows(self, batch: Batch, *, current: bool = False) -> dict[int, object]:
        """The rows of the batch's tasks, each read after its latest event in the batch
        committed, or with `current` after every event known to this process; shared with
        every subscriber that handles these events."""
        needed = _latest_seqs(batch, "task", "task_id")
        if current:
            needed = dict.fromkeys(needed, self.known)
        return await self._tasks.get(needed, self._mark(batch), task_rows_by_id)

    async def issue_rows(self, batch: Batch) -> dict[int, object]:
        """The rows of the batch's issues, each read after its latest event in the batch
        committed; shared like task_rows (one read per event for every issueUpdates subscriber)."""
        return await self._issues.get(_latest_seqs(batch, "issue", "issue_id"), self._mark(batch), issue_rows_by_id)

    async def user_rows(self, user_ids: set[int], batch: Batch) -> dict[int, object]:
        """Users the batch's updates show (actors, assignees), read once after the batch."""
        last = batch[-1]["seq"]
        return await self._users.get({u: last for u in user_ids}, self._mark(batch), user_rows_by_id)

    async def roles_of(self, user_id: int, batch: Batch) -> list:
        """The user's roles as read after the batch's events committed (roles_of_user rows),
        shared by all of this user's subscriptions to the campaign: authorization is checked
        again at every event, against roles at least as new as the event."""
        self._askers.pop(user_id, None)
        self._askers[user_id] = None  # the most recent last
        found = await self._roles.get({user_id: batch[-1]["seq"]}, self._mark(batch), _roles_by_user)
        return found.get(user_id, [])

    def roles_read_ahead(self, user_id: int, seq: int) -> list | None:
        """The user's roles as the read ahead of event `seq` found them (roles_of_user rows), or
        None when no finished read after that event holds them."""
        found = self._roles.done(user_id, seq)
        return None if found is None else found.get(user_id, [])

    def _mark(self, batch: Batch) -> int:
        # Every event of the batch has committed (it is in the log, or was published after its
        # commit), so a read that starts now is at least as new as each of them.
        return max(self.known, batch[-1]["seq"])

    def _remember(self, after_seq: int, events: Batch) -> None:
        if after_seq not in self._pages:
            page = asyncio.get_running_loop().create_future()
            page.set_result(events)
            self._pages[after_seq] = page
            self._trim()

    def _forget_unless_useful(self, seq: int, page: asyncio.Future) -> None:
        # An empty page (nothing yet) or a failed read must not be served again: ask the log.
        if page.cancelled() or page.exception() is not None or not page.result():
            if self._pages.get(seq) is page:
                del self._pages[seq]

    def _trim(self) -> None:
        while len(self._pages) > CACHE_PAGES:
            self._pages.popitem(last=False)  # a reader awaiting it holds its own reference


def _latest_seqs(batch: Batch, kind: str, key: str) -> dict[int, int]:
    """{row id: the seq of its latest event in the batch} for the batch's events of `kind`."""
    latest: dict[int, int] = {}
    for message in batch:
        if message["type"] == kind:
            latest[message[key]] = max(latest.get(message[key], 0), message["seq"])
    return latest


async def follow_feed(feeds: Feeds, organization_id: int, campaign_id: int, start: Callable[[], Awaitable[int]],
                      refresh: Callable[[CampaignFeed, Batch], Awaitable[None]],
                      member: InStep | None = None) -> AsyncIterator[tuple[CampaignFeed, Batch, dict]]:
    """The campaign streams' "follow the log" loop: the feed first (registered on the bus), then
    `start()` gives the seq to follow from (read now, or from `after:`), then each page is
    announced to `refresh` (roles reloaded, fresh loaders primed with the feed's rows) before its
    events come out one by one, each with the feed and its batch. Use it under `aclosing`, like
    stream.follow_log. `member`: how the feed's send loop reaches this subscriber while it is in
    step (send_loop.py); without one it is woken for every event."""
    async with feeds.campaign(organization_id, campaign_id) as feed:
        async with aclosing(feed.batches(await start(), member)) as batches:
            async for batch in batches:
                await refresh(feed, batch)
                for message in batch:
                    yield feed, batch, message


class SharedReads:
    """Rows read once for many subscribers. Each read is marked with the seq up to which the log
    had committed when it started, and serves an event only if that mark is at or past the
    event's seq: a row is never older than the event it goes with."""

    def __init__(self) -> None:
        self._reads: OrderedDict[int, tuple[int, asyncio.Future]] = OrderedDict()

    async def get(self, needed: dict[int, int], mark: int, read) -> dict[int, object]:
        """{key: row} for the keys of `needed` ({key: the seq its row must be as new as})."""
        missing = [k for k, seq in needed.items() if k not in self._reads or self._reads[k][0] < seq]
        if missing:
            future = asyncio.ensure_future(read(missing))  # not tied to the subscriber that asked
            for key in missing:
                self._reads[key] = (mark, future)
            future.add_done_callback(lambda done: self._forget_if_failed(missing, done))
        for key in needed:
            self._reads.move_to_end(key)
        reads = {key: self._reads[key][1] for key in needed}  # taken now: a failed one is dropped
        while len(self._reads) > MAX_SHARED_ROWS:
            self._reads.popitem(last=False)  # whoever awaits its read holds its own reference
        rows = {}
        for key, future in reads.items():
            found = (await shared_result(future)).get(key)
            if found is not None:
                rows[key] = found
        return rows

    def done(self, key: int, seq: int) -> dict | None:
        """The finished read holding `key`, as new as `seq`, without waiting; else None."""
        mark, future = self._reads.get(key, (0, None))
        if mark < seq or future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return None
        return future.result()

    def _forget_if_failed(self, keys: list[int], future: asyncio.Future) -> None:
        # Whoever awaited it gets the error; whoever comes next reads again.
        if future.cancelled() or future.exception() is not None:
            for key in keys:
                if key in self._reads and self._reads[key][1] is future:
                    del self._reads[key]


async def task_rows_by_id(task_ids: list[int]) -> dict[int, object]:
    # Off the loop: a feed reads a page's tasks right when a big write (a launch) has just
    # committed and its thread is still busy; on the loop that read was seen to take 65 ms.
    # One thread hop per page, shared by every subscriber of the campaign (or, for myTaskUpdates,
    # of the organization: org_reads.py).
    rows = await task_rows(f"id IN ({in_list(task_ids)})", task_ids, off_loop=True)
    return {row.id: row for row in rows}


async def _roles_by_user(user_ids: list[int]) -> dict[int, list]:
    return await roles_of_users(user_ids)  # one statement for every user a read-ahead takes


class Feeds:
    """The process's campaign feeds, each alive while it has subscribers."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.stats = FanoutStats()
        self._feeds: dict[int, CampaignFeed] = {}

    def live(self) -> int:
        return len(self._feeds)

    @asynccontextmanager
    async def campaign(self, organization_id: int, campaign_id: int) -> AsyncIterator[CampaignFeed]:
        """The campaign's feed, registered on the bus and with its position read on entry."""
        feed = await self._joined(organization_id, campaign_id)
        try:
            yield feed
        finally:
            feed.users -= 1
            await self._release(feed)

    async def _joined(self, organization_id: int, campaign_id: int) -> CampaignFeed:
        """One more user of the campaign's started feed. A feed whose start failed, or whose
        opener went away meanwhile, is never handed out: the next in line opens it again (and
        gets the error itself if the cause is still there)."""
        while True:
            feed = self._feeds.get(campaign_id)
            if feed is None:
                feed = self._feeds[campaign_id] = CampaignFeed(self.bus, organization_id, campaign_id, self.stats)
                feed.users += 1
                try:
                    await feed.start()
                except BaseException:
                    feed.users -= 1
                    feed.failed = True
                    del self._feeds[campaign_id]  # before anyone wakes: they open a new one
                    feed.ready.set()
                    await feed.stop()  # whatever start() had registered
                    raise
                feed.ready.set()
                return feed
            feed.users += 1
            try:
                await feed.ready.wait()
            except BaseException:  # left while it opened: its place is not kept
                feed.users -= 1
                await self._release(feed)
                raise
            if not feed.failed:
                return feed
            feed.users -= 1

    async def _release(self, feed: CampaignFeed) -> None:
        if feed.users == 0 and self._feeds.get(feed.campaign_id) is feed:
            del self._feeds[feed.campaign_id]
            await feed.stop()
