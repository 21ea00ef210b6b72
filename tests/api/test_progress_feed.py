"""campaignProgress's shared feed (subscriptions/progress.py): one computation per campaign per
burst of changes, shared by every subscriber in the process, ending on the latest value."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from campaign_helpers import LAUNCH, START, SUBMIT, act, add_assets, all_tasks, campaign_with_steps
from in_process import Subscribers, roles_reads

from stepwise.schema.ids import decode_id
from stepwise.subscriptions import progress

ONE_STEP = [("Annotate", "ANNOTATION", ["contributor1"])]
PROGRESS = "subscription($c: ID!) { campaignProgress(campaignId: $c) { totalTasks done } }"


async def test_a_burst_is_computed_twice_at_most_for_all_subscribers_and_ends_on_the_latest_value(api, world, monkeypatch):
    await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    campaign, _ = await campaign_with_steps(api, world, ONE_STEP)
    campaign_pk = decode_id(campaign, "Campaign")
    # A long window, so that the whole burst surely falls in it: no timing is asserted.
    monkeypatch.setattr(progress, "COALESCE_SECONDS", 2.0)
    computed = []
    original = progress.ProgressFeed._compute

    async def counting(self):
        computed.append(self.campaign_id)
        await original(self)

    monkeypatch.setattr(progress.ProgressFeed, "_compute", counting)
    bus = api.app.state.bus
    async with progress.progress_feed(bus, campaign_pk) as first, progress.progress_feed(bus, campaign_pk) as second:
        assert first is second and first.subscribers == 2  # one feed per campaign per process
        # The launch's range moves progress: pushed at once.
        assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
        version, (_, counts) = await asyncio.wait_for(first.next_after(0), 10)
        assert counts.total == 4 and computed == [campaign_pk]
        tasks = await all_tasks(api, world, campaign)
        # Starts move no count: nothing computed for them.
        for task in tasks:
            assert (await act(api, START, {"taskId": task["id"]}, world.contributor))["errors"] == []
        # A burst of four submits: pushed at once (if the launch's window is over), then at most
        # once more per window, the last computed after the last submit.
        for task in tasks:
            assert (await act(api, SUBMIT, {"taskId": task["id"]}, world.contributor))["errors"] == []
        percent = 0.0
        while percent < 100.0:
            version, (_, counts) = await asyncio.wait_for(first.next_after(version), 10)
            percent = counts.percent
        assert len(computed) in (2, 3), computed  # the launch, then the burst: once or twice, never per submit
        assert await asyncio.wait_for(second.next_after(version - 1), 1) == (version, first.value)  # shared
    assert progress._FEEDS[bus] == {}  # the last subscriber closed it


async def test_at_each_event_the_roles_of_every_subscriber_are_read_once_for_all(api, world, settings_env, count_queries):
    """Subscribers check their access again at every event, against roles read after it: one
    statement reads them for every viewer of the feed, not one per subscription."""
    await add_assets(api, world, ["a.jpg", "b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, ONE_STEP)
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    [task, _] = await all_tasks(api, world, campaign)
    async with AsyncExitStack() as stack:
        subscribers = Subscribers(api, settings_env, stack)
        viewers = ["manager1"] * 3 + ["contributor1"] * 2
        operations = [await subscribers.operation(name, PROGRESS, {"c": campaign}) for name in viewers]
        for operation in operations:
            assert await operation.next() == {"totalTasks": 2, "done": 0}
        feed = progress._FEEDS[api.app.state.bus][decode_id(campaign, "Campaign")]
        heard = feed.events
        assert (await act(api, START, {"taskId": task["id"]}, world.contributor))["errors"] == []
        async with asyncio.timeout(10):  # the start's roles read is over once the feed counts it
            while feed.events == heard:
                await asyncio.sleep(0.01)
        with count_queries() as counter:
            assert (await act(api, SUBMIT, {"taskId": task["id"]}, world.contributor))["errors"] == []
            for operation in operations:
                assert await operation.next() == {"totalTasks": 2, "done": 1}
        assert roles_reads(counter.statements) == [2]  # the two viewers' roles, once for all five
