"""The campaign feed's send loop over a real uvicorn, both protocols: subscribers parked in step
(taskUpdates, issueUpdates) get each live event from the feed's pump (counted by /health's
`fanout.inStep`) exactly once and in order; a socket that is not read, a removed worker and a subscriber resuming with
`after:` each leave the loop at the right event and lose nothing (subscriptions/send_loop.py)."""

from __future__ import annotations

import pytest

from campaign_helpers import BOX, ISSUE, REASSIGN, SAVE, act
from shared_subscribers import live  # noqa: F401 - the fixture of a launched campaign
from shared_subscribers import CURSOR, REMOVE, UPDATES, Subscriber, both, fanout, registered, save

pytestmark = pytest.mark.timeout(180)

# An update of about 420 KiB (the annotation of 1,000 boxes, 6 times over): 20 of them (8 MiB)
# fill a socket that nobody reads, through every buffer on the way (about 5 MiB on this machine).
BIG = ("subscription($c: ID!) { taskUpdates(campaignId: $c) { kind cursor task { id "
       + " ".join(f"copy{i}: annotation {{ shapes {{ label {{ name }} kind points {{ x y }} }} }}" for i in range(6))
       + " } } }")
RESUMING = UPDATES.replace("$withAsset", "$a: String, $withAsset", 1).replace("(campaignId: $c)", "(campaignId: $c, after: $a)")
ISSUES = "subscription($c: ID!) { issueUpdates(campaignId: $c) { kind cursor issue { kind status } actor { username } } }"
CREATE_ISSUE = "mutation($i: CreateIssueInput!) { createIssue(input: $i) { errors { code } } }"
ASSET = "query($t: ID!) { task(id: $t) { asset { id } } }"
MANY_BOXES = [{**BOX, "points": [{"x": 1 + i % 50, "y": 1}, {"x": 50 + i % 50, "y": 9}]} for i in range(1000)]


def cursors(payloads: list[dict]) -> list[str]:
    return [next(iter(p["data"].values()))["cursor"] for p in payloads]


async def test_members_in_step_get_each_event_once_in_order_through_the_loop(live):
    api, world, campaign, tasks, base, url = live
    c = {"c": campaign}
    managers = [await Subscriber.open(url, world.manager, protocol, UPDATES, c) for protocol in both(4)]
    labeler = await Subscriber.open(url, world.labeler, "graphql-transport-ws", UPDATES, c)
    await registered(managers + [labeler], lambda: save(api, world, tasks, "labeler1", campaign))

    before = fanout(base)
    own = await save(api, world, tasks, "labeler1", campaign)
    assert cursors(await labeler.until(own)) == [own]
    other = await save(api, world, tasks, "contributor1", campaign)
    last = await save(api, world, tasks, "labeler1", campaign)
    got = [await m.until(last) for m in managers]
    assert cursors(await labeler.until(last)) == [last]  # not the contributor's task
    after = fanout(base)

    for payloads in got:
        assert cursors(payloads) == [own, other, last]  # each once, in order, on both protocols
        assert payloads == got[0]
    # The managers got all three from the loop, one execution each; the LABELER's view is
    # executed for them alone, by their resolver (handed back), but the contributor's event,
    # which they do not hear, was passed over in the loop.
    assert after["inStep"] - before["inStep"] == 4 * 3 + 1
    assert after["executions"] - before["executions"] == 3
    assert after["deliveries"] - before["deliveries"] == 4 * 3


async def test_a_socket_nobody_reads_holds_up_no_one_and_gets_every_event_later_in_order(live):
    api, world, campaign, tasks, base, url = live
    c = {"c": campaign}
    slow = await Subscriber.open(url, world.manager, "graphql-transport-ws", BIG, c, receive_buffer=4096)
    others = [await Subscriber.open(url, world.manager, protocol, BIG, c) for protocol in both(3)]
    await registered([slow, *others], lambda: save(api, world, tasks, "contributor1", campaign))

    before = fanout(base)
    sent = []
    for _ in range(20):  # the slow socket reads nothing meanwhile
        saved = await act(api, SAVE, {"taskId": tasks["labeler1"], "shapes": MANY_BOXES}, world.labeler)
        assert saved["errors"] == []
        sent.append((await api.data(CURSOR, c, world.manager))["campaign"]["eventCursor"])
        for other in others:  # each event reaches the others while the slow one is stuck
            assert cursors(await other.until(sent[-1])) == [sent[-1]]
    after = fanout(base)
    # The slow socket left the loop once its buffer was full (its own resolver waits on it).
    assert after["inStep"] - before["inStep"] < 4 * len(sent)

    got = await slow.until(sent[-1])
    assert cursors(got) == sent
    assert all(len(p["data"]["taskUpdates"]["task"]["copy5"]["shapes"]) == 1000 for p in got)
    # Caught up, it is back in the loop with the others.
    before = fanout(base)
    last = await save(api, world, tasks, "contributor1", campaign)
    for subscriber in (slow, *others):
        assert cursors(await subscriber.until(last)) == [last]
    assert fanout(base)["inStep"] - before["inStep"] == 4


async def test_a_worker_removed_from_the_dataset_gets_no_further_event_from_the_loop(live):
    api, world, campaign, tasks, base, url = live
    c = {"c": campaign}
    contributors = [await Subscriber.open(url, world.contributor, p, UPDATES, c) for p in both(2)]
    managers = [await Subscriber.open(url, world.manager, p, UPDATES, c) for p in both(2)]
    await registered(contributors + managers, lambda: save(api, world, tasks, "labeler1", campaign))
    # Handed over, then taken off the dataset: the removal comes with no event of the campaign.
    moved = await act(api, REASSIGN, {"taskId": tasks["contributor1"], "assigneeId": world.ids["labeler"]}, world.manager)
    assert moved["errors"] == []
    moved_cursor = (await api.data(CURSOR, c, world.manager))["campaign"]["eventCursor"]
    for subscriber in contributors + managers:
        assert cursors(await subscriber.until(moved_cursor)) == [moved_cursor]
    removed = await api.data(REMOVE, {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["contributor"]}},
                             world.manager)
    assert removed["removeDatasetWorker"]["errors"] == []

    before = fanout(base)
    cursor = await save(api, world, tasks, "labeler1", campaign)
    for subscriber in contributors:
        assert await subscriber.next() is None  # ended at that event, which they do not get
    for subscriber in managers:
        assert cursors(await subscriber.until(cursor)) == [cursor]
    assert fanout(base)["inStep"] - before["inStep"] == 2  # the managers; the contributors handed back
    cursor = await save(api, world, tasks, "labeler1", campaign)
    for subscriber in managers:
        assert cursors(await subscriber.until(cursor)) == [cursor]


async def test_a_subscriber_resuming_with_after_catches_up_then_joins_the_loop(live):
    api, world, campaign, tasks, base, url = live
    c = {"c": campaign}
    managers = [await Subscriber.open(url, world.manager, p, UPDATES, c) for p in both(2)]
    await registered(managers, lambda: save(api, world, tasks, "labeler1", campaign))
    start = (await api.data(CURSOR, c, world.manager))["campaign"]["eventCursor"]
    missed = [await save(api, world, tasks, who, campaign) for who in ("labeler1", "contributor1", "labeler1")]
    for manager in managers:
        assert cursors(await manager.until(missed[-1])) == missed

    resumed = [await Subscriber.open(url, world.manager, p, RESUMING, {**c, "a": start}) for p in both(2)]
    for subscriber in resumed:
        assert cursors(await subscriber.until(missed[-1])) == missed  # from the log, in order
    before = fanout(base)
    live_cursor = await save(api, world, tasks, "contributor1", campaign)
    for subscriber in managers + resumed:
        assert cursors(await subscriber.until(live_cursor)) == [live_cursor]
    assert fanout(base)["inStep"] - before["inStep"] == 4  # all four in step: from the loop


async def test_issue_updates_in_step_come_through_the_loop_too(live):
    api, world, campaign, tasks, base, url = live
    c = {"c": campaign}
    asset = (await api.data(ASSET, {"t": tasks["labeler1"]}, world.manager))["task"]["asset"]["id"]

    async def raise_issue() -> str:
        raised = await api.data(CREATE_ISSUE, {"i": {"assetId": asset, **ISSUE}}, world.manager)
        assert raised["createIssue"]["errors"] == []
        return (await api.data(CURSOR, c, world.manager))["campaign"]["eventCursor"]

    managers = [await Subscriber.open(url, world.manager, p, ISSUES, c) for p in both(2)]
    labeler = await Subscriber.open(url, world.labeler, "graphql-transport-ws", ISSUES, c)
    await registered(managers + [labeler], raise_issue)
    before = fanout(base)
    raised = [await raise_issue() for _ in range(2)]
    got = [await m.until(raised[-1]) for m in managers + [labeler]]
    after = fanout(base)
    for payloads in got:
        assert cursors(payloads) == raised
        assert payloads == got[0]
    # The managers' from the loop; the LABELER's (an issue on their own task's asset) handed back.
    assert after["inStep"] - before["inStep"] == 2 * 2
    assert after["executions"] - before["executions"] == 2
