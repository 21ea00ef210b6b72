"""The campaign feed (subscriptions/feeds.py) shared by a process's subscribers of one campaign,
on SQLite and PostgreSQL with a real (memory://) bus: one read of the log per "something new"
for all of them, none for an event that came in step on the bus, the task rows read once per
event, a subscriber that fell out of the bounded cache reading its own pages, and members
parked in the send loop taking live events from the pump."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, aclosing
from types import SimpleNamespace

from campaign_helpers import LAUNCH, START, act, add_assets, all_tasks, campaign_with_steps
from conftest import REDIS_URL, _require
from in_process import roles_reads

from stepwise.models.queries.event_log import log_page
from stepwise.schema.ids import decode_id
from stepwise.subscriptions import channels, feeds as feeds_module
from stepwise.subscriptions.bus import open_bus
from stepwise.subscriptions.feeds import Feeds, follow_feed
from stepwise.subscriptions.send_loop import HAND_BACK, HANDLED, InStep

ONE_STEP = [("Annotate", "ANNOTATION", ["contributor1", "labeler1"])]
SUBSCRIBERS = 10


async def launched(api, world, count: int):
    await add_assets(api, world, [f"{i:03}.jpg" for i in range(count)])
    campaign, _ = await campaign_with_steps(api, world, ONE_STEP)
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    return campaign, decode_id(campaign, "Campaign"), decode_id(world.ids["org"], "Organization")


async def test_subscribers_of_one_campaign_share_each_read_of_the_log_and_of_the_task_rows(api, world, count_queries):
    campaign, campaign_pk, org_pk = await launched(api, world, 5)
    async with open_bus("memory://") as bus, AsyncExitStack() as stack:
        feeds = Feeds(bus)
        feed = await stack.enter_async_context(feeds.campaign(org_pk, campaign_pk))
        streams = [await stack.enter_async_context(aclosing(feed.batches(0))) for _ in range(SUBSCRIBERS)]
        assert feed.known == 5 and feeds.live() == 1

        async def next_batches() -> tuple[list[list[int]], int]:
            with count_queries() as counter:
                batches = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in streams)), 5)
                for batch in batches:  # what each subscriber loads before handling its batch
                    await feed.roles_of(manager_pk, batch)
                    tasks = await feed.task_rows(batch)
                    await feed.user_rows({t.assignee_id for t in tasks.values()}, batch)
            return [[m["seq"] for m in b] for b in batches], len(counter.statements)

        manager_pk = decode_id(world.ids["manager"], "User")
        # Behind (from the log's start): one page read, and one read each of the viewer's roles,
        # of the task rows and of the users they show, for all ten.
        assert await next_batches() == ([[1, 2, 3, 4, 5]] * SUBSCRIBERS, 4)
        # In step: the published event is the page; the rows it needs are read once, again
        # (a read from before the event would be older than it).
        tasks = await all_tasks(api, world, campaign)
        tokens = {"contributor1": world.contributor, "labeler1": world.labeler}
        assert (await act(api, START, {"taskId": tasks[0]["id"]}, tokens[tasks[0]["assignee"]["username"]]))["errors"] == []
        [started] = await log_page(org_pk, campaign_pk, 5)
        await bus.publish(channels.campaign_events(campaign_pk), started)
        assert await next_batches() == ([[6]] * SUBSCRIBERS, 3)
        # New assets: a range on the bus, one read of the log for everyone.
        await add_assets(api, world, ["new1.jpg", "new2.jpg"])
        await bus.publish(channels.campaign_events(campaign_pk),
                          {"type": "range", "organization_id": org_pk, "campaign_id": campaign_pk, "first_seq": 7, "last_seq": 8})
        assert await next_batches() == ([[7, 8]] * SUBSCRIBERS, 4)
    assert feeds.live() == 0  # the last subscriber gone, the feed is gone (and off the bus)


async def test_a_live_event_has_its_viewers_roles_read_before_its_subscribers_wake(api, world, count_queries):
    """The users who asked for their roles at the last event have them read once, after the new
    event committed, before the feed hands the event out: the subscribers find the read done
    (no wait each), a role change committed before the event is in it, and a user who stopped
    asking is read for at most twice more."""
    campaign, campaign_pk, org_pk = await launched(api, world, 4)
    manager_pk = decode_id(world.ids["manager"], "User")
    member_pk = decode_id(world.ids["member"], "User")
    tasks = await all_tasks(api, world, campaign)
    tokens = {"contributor1": world.contributor, "labeler1": world.labeler}
    async with open_bus("memory://") as bus, AsyncExitStack() as stack:
        feed = await stack.enter_async_context(Feeds(bus).campaign(org_pk, campaign_pk))
        streams = [await stack.enter_async_context(aclosing(feed.batches(0))) for _ in range(SUBSCRIBERS)]
        for batch in await asyncio.gather(*(anext(s) for s in streams)):
            before = await feed.roles_of(manager_pk, batch)
            member_before = await feed.roles_of(member_pk, batch)

        async def live_event(task: dict) -> tuple[list, int]:
            """The task started, its event published: the batches, and the users read in each
            statement run before every subscriber had it (the feed's reads ahead)."""
            assert (await act(api, START, {"taskId": task["id"]}, tokens[task["assignee"]["username"]]))["errors"] == []
            seq = feed.known
            [started] = await log_page(org_pk, campaign_pk, seq)
            with count_queries() as counter:
                await bus.publish(channels.campaign_events(campaign_pk), started)
                batches = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in streams)), 5)
            reads = roles_reads(counter.statements)
            assert len(reads) == len(counter.statements)  # nothing but the roles read ahead
            return batches, reads

        # The member becomes a worker of the dataset: the next event's read-ahead shows it.
        added = await api.data("mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { errors { code } } }",
                               {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["member"], "role": "CONTRIBUTOR"}},
                               world.manager)
        assert added["addDatasetWorker"]["errors"] == []
        batches, read_ahead = await live_event(tasks[0])
        assert read_ahead == [2]  # the manager's roles and the member's, in one statement for all ten
        with count_queries() as counter:
            for batch in batches:
                assert await feed.roles_of(manager_pk, batch) == before
            member_after = await feed.roles_of(member_pk, batches[0])
        assert counter.statements == []
        assert len(member_after) == len(member_before) + 1  # the new dataset role
        # From now on only the manager asks: the member, who asked before the last event, is
        # read at the next event too (two generations), then no longer.
        for task, expected in ((tasks[1], [2]), (tasks[2], [2]), (tasks[3], [1])):
            batches, read_ahead = await live_event(task)
            assert read_ahead == expected
            for batch in batches:
                await feed.roles_of(manager_pk, batch)


async def test_a_subscriber_that_fell_out_of_the_cache_reads_its_own_pages(api, world, count_queries, monkeypatch):
    monkeypatch.setattr(feeds_module, "CACHE_PAGES", 2)
    campaign, campaign_pk, org_pk = await launched(api, world, 3)
    tasks = await all_tasks(api, world, campaign)
    tokens = {"contributor1": world.contributor, "labeler1": world.labeler}
    async with open_bus("memory://") as bus, Feeds(bus).campaign(org_pk, campaign_pk) as feed:
        async with aclosing(feed.batches(3)) as prompt, aclosing(feed.batches(3)) as slow:
            for seq, task in enumerate(tasks, start=4):
                assert (await act(api, START, {"taskId": task["id"]}, tokens[task["assignee"]["username"]]))["errors"] == []
                [event] = await log_page(org_pk, campaign_pk, seq - 1)
                await bus.publish(channels.campaign_events(campaign_pk), event)
                with count_queries() as counter:
                    assert [m["seq"] for m in await asyncio.wait_for(anext(prompt), 5)] == [seq]
                assert counter.statements == []  # in step: from the bus
            # Only the last two events are still cached: the slow one reads the log from its
            # position, in one page, and nothing was held for it meanwhile.
            with count_queries() as counter:
                assert [m["seq"] for m in await asyncio.wait_for(anext(slow), 5)] == [4, 5, 6]
            assert len(counter.statements) == 1


async def test_a_stream_left_early_releases_its_feed_at_once(api, world):
    """follow_feed under aclosing: a subscription that ends mid-page (its viewer lost their
    role, the client went away) leaves nothing registered behind it."""
    _, campaign_pk, org_pk = await launched(api, world, 3)
    async with open_bus("memory://") as bus:
        feeds = Feeds(bus)

        async def from_the_start() -> int:
            return 0

        async def nothing(feed, batch) -> None:
            pass

        events = follow_feed(feeds, org_pk, campaign_pk, from_the_start, nothing)
        async with aclosing(events):
            async for _, _, message in events:
                assert (message["seq"], feeds.live()) == (1, 1)
                break  # two more events of the page were never handed out
        assert feeds.live() == 0


async def test_rows_already_shared_are_served_when_the_shared_cache_is_over_its_bound(api, world, monkeypatch):
    """A batch that needs both rows read before and new ones, when the feed's shared rows are
    over their bound (the least recently used are dropped): every row comes back (the
    subscriber's update is not lost to an error)."""
    monkeypatch.setattr(feeds_module, "MAX_SHARED_ROWS", 2)
    _, campaign_pk, org_pk = await launched(api, world, 3)
    async with open_bus("memory://") as bus, Feeds(bus).campaign(org_pk, campaign_pk) as feed:
        async with aclosing(feed.batches(0)) as first:
            batch = await asyncio.wait_for(anext(first), 5)
            assert len(await feed.task_rows(batch)) == 3  # three rows shared: over the bound of 2
        await add_assets(api, world, ["late.jpg"])  # the launched campaign's fourth task, seq 4
        async with aclosing(feed.batches(2)) as resumed:
            batch = await asyncio.wait_for(anext(resumed), 5)
            assert [m["seq"] for m in batch] == [3, 4]
            rows = await feed.task_rows(batch)
            assert set(rows) == {m["task_id"] for m in batch}


async def _opening(feeds: Feeds, org_pk: int, campaign_pk: int) -> tuple[asyncio.Task, asyncio.Task, asyncio.Event]:
    """Two subscribers of one campaign: the first opening its feed (in start(), on the Redis bus:
    registering there is a round trip), the second waiting for it; both stay until `leave` is set."""

    async def subscriber(leave: asyncio.Event) -> int:
        async with feeds.campaign(org_pk, campaign_pk) as feed:
            await leave.wait()
            return feed.known >= 3  # (other work on this Redis may publish on the channel too)

    leave = asyncio.Event()
    # Both run in this turn of the loop, in order: the first stops at start()'s first read.
    opener, joiner = asyncio.create_task(subscriber(leave)), asyncio.create_task(subscriber(leave))
    await asyncio.sleep(0)
    [feed] = feeds._feeds.values()
    assert (feed.users, feed.ready.is_set()) == (2, False)
    return opener, joiner, leave


async def test_a_feed_whose_opener_went_away_is_opened_for_the_others(api, world):
    """The subscriber opening a campaign's feed leaves (its client went away) while another
    waits for it: the other is served, and so is everyone after (no broken feed left behind)."""
    _, campaign_pk, org_pk = await launched(api, world, 3)
    async with open_bus(_require(REDIS_URL, "Redis", "STEPWISE_TEST_REDIS_URL")) as bus:
        feeds = Feeds(bus)
        opener, joiner, leave = await _opening(feeds, org_pk, campaign_pk)
        opener.cancel()
        await asyncio.sleep(0.1)
        leave.set()
        assert await asyncio.wait_for(joiner, 5)
        async with feeds.campaign(org_pk, campaign_pk) as feed:
            assert feed.known >= 3
        assert feeds.live() == 0


async def test_a_subscriber_that_left_while_its_feed_opened_does_not_keep_it(api, world):
    """One waiting for the feed to open leaves: when the others are gone, the feed is gone."""
    _, campaign_pk, org_pk = await launched(api, world, 3)
    async with open_bus(_require(REDIS_URL, "Redis", "STEPWISE_TEST_REDIS_URL")) as bus:
        feeds = Feeds(bus)
        opener, joiner, leave = await _opening(feeds, org_pk, campaign_pk)
        joiner.cancel()
        leave.set()
        assert await asyncio.wait_for(opener, 5)
        assert feeds.live() == 0


async def test_members_parked_in_step_take_live_events_from_the_pump_and_leave_cleanly(api, world):
    """The send loop's side of the feed (subscriptions/send_loop.py): members parked at the
    log's end get a live event from the pump through their `deliver`, with no page handed to
    their consumer; one that hands it back gets it as a page, at that very event; consumers
    that go away leave nothing parked and no task behind."""
    campaign, campaign_pk, org_pk = await launched(api, world, 3)
    manager_pk = decode_id(world.ids["manager"], "User")
    tasks = await all_tasks(api, world, campaign)
    tokens = {"contributor1": world.contributor, "labeler1": world.labeler}
    delivered: dict[str, list[int]] = {"a": [], "b": [], "back": []}
    pages: dict[str, list[list[int]]] = {name: [] for name in delivered}

    def member(name: str, outcome: str) -> InStep:
        async def deliver(feed, message, access) -> str:
            assert access.roles_key() is not None  # the roles read ahead of the event
            delivered[name].append(message["seq"])
            return outcome
        return InStep(SimpleNamespace(id=manager_pk), deliver)

    async with open_bus("memory://") as bus, Feeds(bus).campaign(org_pk, campaign_pk) as feed:
        paged = asyncio.Event()

        async def consume(name: str, in_step: InStep) -> None:
            async with aclosing(feed.batches(3, in_step)) as batches:
                async for batch in batches:
                    pages[name].append([m["seq"] for m in batch])
                    paged.set()

        members = {"a": member("a", HANDLED), "b": member("b", HANDLED), "back": member("back", HAND_BACK)}
        consumers = [asyncio.create_task(consume(name, m)) for name, m in members.items()]
        while len(feed.parked) < 3:  # each parks at the log's end, in its first turn
            await asyncio.sleep(0)
        in_step_before = feed.results.stats.in_step

        assert (await act(api, START, {"taskId": tasks[0]["id"]}, tokens[tasks[0]["assignee"]["username"]]))["errors"] == []
        [started] = await log_page(org_pk, campaign_pk, 3)
        await bus.publish(channels.campaign_events(campaign_pk), started)
        await asyncio.wait_for(paged.wait(), 5)
        assert delivered == {"a": [4], "b": [4], "back": [4]}
        assert pages == {"a": [], "b": [], "back": [[4]]}  # handed back: its own consumer has it
        assert feed.results.stats.in_step - in_step_before == 2
        assert (members["a"].position, members["b"].position) == (4, 4)

        for consumer in consumers:
            consumer.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        assert feed.parked == {} and all(m.wake is None for m in members.values())
