"""What the myTaskUpdates subscribers of one organization read per event, read once per process.

Each subscriber keeps its own position per campaign (subscriptions/stream.py); what it needs at
an event is shared by all of the organization's subscribers in the process:
- the viewers' roles, re-checked at every event it follows (a removed worker's subscription ends
  at the next event): one read of the roles of every subscribed user, after the event committed,
  serves each of them at that event;
- the rows of a batch's tasks, read once for every subscriber the batch concerns (and never for
  one it does not): as new as the event, or for a viewer whose view hangs on the row (a LABELER)
  read after every event the process has heard of, as the campaign feeds do (feeds.py);
- the pages of a campaign's log (a launch: every subscriber follows the same pages), and each
  campaign's dataset (which never changes).

Freshness is kept per campaign: `known` is the highest seq this process knows to be committed
(from its own registration on the organization's channel, or from an event a subscriber holds);
a read remembers `known` as it was when it started, and serves an event only if that mark is at
or past the event's seq.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from stepwise.models.queries.accounts import roles_of_users, user_rows_by_id
from stepwise.models.queries.campaigns import campaign_by_id
from stepwise.models.queries.event_log import PAGE, log_page
from stepwise.subscriptions import channels
from stepwise.subscriptions.bus import Bus, Gap, until_registered
from stepwise.subscriptions.feeds import task_rows_by_id
from stepwise.subscriptions.shared_futures import shared_result

logger = logging.getLogger("stepwise.feeds")
CACHE_PAGES = 64  # log pages kept per organization
MAX_ROWS = 1_000  # task rows kept per organization, the least recently used dropped first
ROLE_READS = 8  # recent role reads kept (subscribers a few events apart still share)

Batch = list[dict]
_READS: weakref.WeakKeyDictionary[Bus, dict[int, OrganizationReads]] = weakref.WeakKeyDictionary()


def last_seq(message: dict) -> int:
    return message["last_seq"] if message["type"] == "range" else message["seq"]


class OrganizationReads:
    def __init__(self, bus: Bus, organization_id: int) -> None:
        self.organization_id = organization_id
        self.users: Counter[int] = Counter()  # subscribed viewers (one count per subscription)
        self.known: dict[int, int] = {}  # campaign -> highest seq known committed
        self.heard = 0  # grows with every event this process hears of (a LABELER's rows: read after all)
        self._roles: OrderedDict[int, tuple[dict[int, int], frozenset[int], asyncio.Future]] = OrderedDict()
        self._reads = 0
        self._tasks, self._users = _Rows(), _Rows()
        self._pages: OrderedDict[tuple[int, int], asyncio.Future] = OrderedDict()
        self._datasets: dict[int, asyncio.Future] = {}
        self._listening = asyncio.Event()
        self._pump = asyncio.create_task(self._follow(bus))

    # --- what subscribers read ---------------------------------------------------------------

    async def roles_of(self, user_id: int, batch: Batch) -> list:
        """The user's roles (roles_of_user rows) as read after the batch's events committed: one
        read for every subscribed user, shared by all whose batch it is as new as."""
        campaign_id, seq = batch[-1]["campaign_id"], last_seq(batch[-1])
        self._saw(campaign_id, seq)
        for marks, users, future in reversed(self._roles.values()):
            if user_id in users and marks.get(campaign_id, 0) >= seq:
                break
        else:
            users = frozenset(self.users) | {user_id}
            future = asyncio.ensure_future(roles_of_users(sorted(users)))  # not tied to who asked
            self._reads += 1
            self._roles[self._reads] = (dict(self.known), users, future)
            future.add_done_callback(lambda done, key=self._reads: self._drop_failed(self._roles, key, done))
            while len(self._roles) > ROLE_READS:
                self._roles.popitem(last=False)
        return (await shared_result(future)).get(user_id, [])

    async def task_rows(self, batch: Batch, *, current: bool) -> dict[int, object]:
        """The rows of the batch's tasks, each read after its latest event in the batch
        committed, or with `current` after every event this process has heard of."""
        needed: dict[int, int] = {}
        for message in batch:
            if message["type"] == "task":
                needed[message["task_id"]] = max(needed.get(message["task_id"], 0), message["seq"])
        return await self._tasks.get(self, batch, needed, current, task_rows_by_id)

    async def user_rows(self, user_ids: set[int], batch: Batch) -> dict[int, object]:
        """Users the batch's updates show (actors, assignees), read once after the batch."""
        seq = last_seq(batch[-1])
        return await self._users.get(self, batch, dict.fromkeys(user_ids, seq), False, user_rows_by_id)

    async def page(self, campaign_id: int, after_seq: int) -> Batch:
        """The campaign's events after `after_seq` (a page of the log), read once for every
        subscriber at that position."""
        key = (campaign_id, after_seq)
        page = self._pages.get(key)
        if page is None:
            page = self._pages[key] = asyncio.ensure_future(log_page(self.organization_id, campaign_id, after_seq))
            page.add_done_callback(lambda done: self._drop_unless_full(key, done))
            while len(self._pages) > CACHE_PAGES:
                self._pages.popitem(last=False)
            return await shared_result(page)
        self._pages.move_to_end(key)
        events = await shared_result(page)
        if len(events) < PAGE:  # a read started before this subscriber asked may end short of
            return await log_page(self.organization_id, campaign_id, after_seq)  # what it knows of
        return events

    async def dataset_of(self, campaign_id: int) -> int | None:
        """The campaign's dataset (None: no such campaign), read once per process."""
        found = self._datasets.get(campaign_id)
        if found is None:
            found = self._datasets[campaign_id] = asyncio.ensure_future(_dataset_of(campaign_id))
            found.add_done_callback(lambda done: self._drop_failed(self._datasets, campaign_id, done))
        return await shared_result(found)

    # --- freshness ---------------------------------------------------------------------------

    def _saw(self, campaign_id: int, seq: int) -> None:
        if seq > self.known.get(campaign_id, 0):
            self.known[campaign_id] = seq
            self.heard += 1

    async def _follow(self, bus: Bus) -> None:
        async with bus.subscribe(channels.organization_events(self.organization_id)) as messages:
            self._listening.set()
            async for message in messages:
                if isinstance(message, Gap):  # lost messages: no read is known to be current
                    self.heard += 1
                else:
                    self._saw(message["campaign_id"], last_seq(message))

    async def listening(self) -> None:
        await until_registered(self._listening, self._pump)

    def _drop_failed(self, reads: dict, key, future: asyncio.Future) -> None:
        # Whoever awaited it gets the error; whoever comes next reads again.
        if (future.cancelled() or future.exception() is not None) and key in reads:
            entry = reads[key]
            if entry is future or (isinstance(entry, tuple) and entry[-1] is future):
                del reads[key]

    def _drop_unless_full(self, key: tuple[int, int], page: asyncio.Future) -> None:
        # A short page (the log's end as it was then) must not be served to a later reader.
        if page.cancelled() or page.exception() is not None or len(page.result()) < PAGE:
            if self._pages.get(key) is page:
                del self._pages[key]

    def close(self) -> None:
        self._pump.cancel()


class _Rows:
    """Rows read once for many subscribers, by id: each read remembers the campaign's `known`
    seq and the process's `heard` count as they were when it started."""

    def __init__(self) -> None:
        self._reads: OrderedDict[int, tuple[int, int, int, asyncio.Future]] = OrderedDict()

    async def get(self, owner: OrganizationReads, batch: Batch, needed: dict[int, int], current: bool, read) -> dict:
        """{id: row} for the ids of `needed` ({id: the seq its row must be as new as}); `current`:
        read after every event heard of."""
        campaign_id = batch[-1]["campaign_id"]
        owner._saw(campaign_id, last_seq(batch[-1]))

        def fresh(key: int) -> bool:
            found = self._reads.get(key)
            return (found is not None and found[0] == campaign_id and found[1] >= needed[key]
                    and (not current or found[2] >= owner.heard))

        missing = [key for key in needed if not fresh(key)]
        if missing:
            future = asyncio.ensure_future(read(missing))  # not tied to the subscriber that asked
            for key in missing:
                self._reads[key] = (campaign_id, owner.known[campaign_id], owner.heard, future)
            future.add_done_callback(lambda done: self._drop_failed(missing, done))
        for key in needed:
            self._reads.move_to_end(key)
        reads = {key: self._reads[key][3] for key in needed}  # taken before trimming
        while len(self._reads) > MAX_ROWS:
            self._reads.popitem(last=False)
        rows = {}
        for key, future in reads.items():
            if (row := (await shared_result(future)).get(key)) is not None:
                rows[key] = row
        return rows

    def _drop_failed(self, keys: list[int], future: asyncio.Future) -> None:
        if future.cancelled() or future.exception() is not None:
            for key in keys:
                if key in self._reads and self._reads[key][3] is future:
                    del self._reads[key]


async def _dataset_of(campaign_id: int) -> int | None:
    campaign = await campaign_by_id(campaign_id)
    return campaign.dataset_id if campaign is not None else None


@asynccontextmanager
async def organization_reads(bus: Bus, organization_id: int, user_id: int) -> AsyncIterator[OrganizationReads]:
    """The organization's shared reads, registered on its channel on entry, for one more
    subscription of `user_id`; closed when the last one leaves."""
    reads_of_bus = _READS.setdefault(bus, {})
    reads = reads_of_bus.get(organization_id)
    if reads is None:
        reads = reads_of_bus[organization_id] = OrganizationReads(bus, organization_id)
    reads.users[user_id] += 1
    try:
        await reads.listening()
        yield reads
    finally:
        reads.users[user_id] -= 1
        if reads.users[user_id] == 0:
            del reads.users[user_id]
        if not reads.users and reads_of_bus.get(organization_id) is reads:
            del reads_of_bus[organization_id]
            reads.close()
