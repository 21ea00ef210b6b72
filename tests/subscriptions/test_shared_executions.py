"""Shared executions over a real uvicorn, both protocols: subscribers of a campaign with the same
document, variables and roles get one execution per event (counted by /health's `fanout`) and the
same payload; each is still authorized on its own, a LABELER still sees only their rows, a member
that leaves or loses access never disturbs the others."""

from __future__ import annotations

import pytest

from campaign_helpers import REASSIGN, act
from shared_subscribers import live  # noqa: F401 - the fixture of a launched campaign
from shared_subscribers import CURSOR, OTHER_SELECTION, REMOVE, UPDATES, Subscriber, both, fanout, registered, save

pytestmark = pytest.mark.timeout(180)

async def test_identical_subscribers_share_one_execution_per_event_and_get_the_same_answer(live):
    api, world, campaign, tasks, base, url = live
    c = {"c": campaign}
    groups = {  # name: (token, document, variables, how many subscribers)
        "managers": (world.manager, UPDATES, c, 6),
        "managers without assets": (world.manager, UPDATES, {**c, "withAsset": False}, 2),
        "managers, other selection": (world.manager, OTHER_SELECTION, c, 2),
        "admin": (world.admin, UPDATES, c, 2),  # MANAGER in the dataset, but other roles: its own group
        "contributor": (world.contributor, UPDATES, c, 2),
    }
    subscribers = {name: [await Subscriber.open(url, token, protocol, query, variables) for protocol in both(n)]
                   for name, (token, query, variables, n) in groups.items()}
    labeler = [await Subscriber.open(url, world.labeler, protocol, UPDATES, c) for protocol in both(2)]
    everyone = [s for members in subscribers.values() for s in members]
    await registered(everyone + labeler, lambda: save(api, world, tasks, "labeler1", campaign))

    before = fanout(base)
    own = await save(api, world, tasks, "labeler1", campaign)
    other = await save(api, world, tasks, "contributor1", campaign)
    answers = {name: [await s.until(other) for s in members] for name, members in subscribers.items()}
    after = fanout(base)
    # Two events, each executed once per group and sent to every member of it; the LABELER's
    # updates are executed for them alone.
    assert after["executions"] - before["executions"] == 2 * len(groups)
    assert after["deliveries"] - before["deliveries"] == 2 * len(everyone)

    for name, got in answers.items():
        assert all(g == got[0] for g in got), name  # the same payload, whatever the protocol
        assert [p["data"]["taskUpdates"]["cursor"] for p in got[0]] == [own, other]
    managers = answers["managers"][0]
    assert [u["data"]["taskUpdates"]["task"]["assignee"]["username"] for u in managers] == ["labeler1", "contributor1"]
    assert managers[0]["data"]["taskUpdates"]["task"]["asset"]["filename"] in ("a.jpg", "b.jpg")
    assert "asset" not in answers["managers without assets"][0][0]["data"]["taskUpdates"]["task"]
    assert set(answers["managers, other selection"][0][0]["data"]["taskUpdates"]["task"]) == {"id", "version"}
    assert answers["admin"][0] == managers and answers["contributor"][0] == managers

    # The LABELER heard their own task's change, not the contributor's: their next is their next.
    last = await save(api, world, tasks, "labeler1", campaign)
    for subscriber in labeler:
        heard = [p["data"]["taskUpdates"]["cursor"] for p in await subscriber.until(last)]
        assert heard == [own, last]


async def test_members_that_leave_do_not_end_the_group(live):
    api, world, campaign, tasks, base, url = live
    members = [await Subscriber.open(url, world.manager, protocol, UPDATES, {"c": campaign}) for protocol in both(6)]
    await registered(members, lambda: save(api, world, tasks, "contributor1", campaign))
    # One completes its subscription, one closes its socket, on each protocol.
    for gone in members[:2]:
        await gone.complete()
    for gone in members[2:4]:
        await gone.socket.close()
    stayed = members[4:]
    for round_ in range(2):
        before = fanout(base)
        cursor = await save(api, world, tasks, "labeler1", campaign)
        got = [await s.until(cursor) for s in stayed]
        assert got[0] == got[1] and len(got[0]) == 1, round_
        after = fanout(base)
        assert (after["executions"] - before["executions"], after["deliveries"] - before["deliveries"]) == (1, 2)


async def test_a_member_that_loses_access_is_ended_while_its_group_goes_on(live):
    api, world, campaign, tasks, base, url = live
    contributors = [await Subscriber.open(url, world.contributor, p, UPDATES, {"c": campaign}) for p in both(2)]
    managers = [await Subscriber.open(url, world.manager, p, UPDATES, {"c": campaign}) for p in both(2)]
    await registered(contributors + managers, lambda: save(api, world, tasks, "labeler1", campaign))
    # The contributor hands their task over, then is taken off the dataset.
    moved = await act(api, REASSIGN, {"taskId": tasks["contributor1"], "assigneeId": world.ids["labeler"]}, world.manager)
    assert moved["errors"] == []
    moved_cursor = (await api.data(CURSOR, {"c": campaign}, world.manager))["campaign"]["eventCursor"]
    removed = await api.data(REMOVE, {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["contributor"]}},
                             world.manager)
    assert removed["removeDatasetWorker"]["errors"] == []
    cursor = await save(api, world, tasks, "labeler1", campaign)
    for subscriber in contributors:
        # At most the reassign (if it was handled before the removal committed), then the end.
        heard = []
        while (payload := await subscriber.next()) is not None:
            heard.append(payload["data"]["taskUpdates"]["cursor"])
        assert heard in ([], [moved_cursor])
    for subscriber in managers:
        got = await subscriber.until(cursor)
        assert [p["data"]["taskUpdates"]["cursor"] for p in got] == [moved_cursor, cursor]
    cursor = await save(api, world, tasks, "labeler1", campaign)
    for subscriber in managers:
        assert len(await subscriber.until(cursor)) == 1
