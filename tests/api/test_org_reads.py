"""myTaskUpdates' per-event reads are shared by the organization's subscribers in the process
(subscriptions/org_reads.py), through the real Subscription resolvers run in this process (real
database, the app's own bus, real mutations), by a client that reads at its own pace:
- an event costs the same statements whether one or several subscribers hear it: one read of
  every subscribed viewer's roles, one of the event's task, one of the users it shows;
- a subscriber the event does not concern reads nothing for it;
- two subscriptions sharing one Access (one websocket) each keep their own view of the roles."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from campaign_helpers import LAUNCH, REASSIGN, act, add_assets, all_tasks, campaign_with_steps
from in_process import Subscribers

from stepwise.models.db.accounts import User
from stepwise.permissions.access import Access

pytestmark = pytest.mark.timeout(120)

STEPS = [("Annotate", "ANNOTATION", ["contributor1", "labeler1"]), ("Review", "REVIEW", ["manager1"])]
MINE = """subscription($o: ID!, $a: String) { myTaskUpdates(organizationId: $o, after: $a) {
  kind cursor actor { username } task { id status assignee { username } } } }"""
CURSOR = "query($o: ID!) { organization(id: $o) { eventCursor } }"
CAMPAIGN_CURSOR = "query($c: ID!) { campaign(id: $c) { eventCursor } }"
CAMPAIGN_UPDATES = "subscription($c: ID!, $a: String) { taskUpdates(campaignId: $c, after: $a) { kind } }"
REMOVE = "mutation($i: RemoveDatasetWorkerInput!) { removeDatasetWorker(input: $i) { errors { code } } }"


async def launched(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, STEPS)
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    tasks = {t["assignee"]["username"]: t["id"] for t in await all_tasks(api, world, campaign)}
    return tasks["contributor1"], tasks["labeler1"], campaign


async def reassign(api, world, task_id: str, to: str) -> None:
    moved = await act(api, REASSIGN, {"taskId": task_id, "assigneeId": world.ids[to]}, world.manager)
    assert moved["errors"] == []


def _table(statement: str) -> str:
    return statement.split(" FROM ")[1].split()[0].strip('"')


@pytest.mark.parametrize("copies", [1, 3])
async def test_an_event_costs_the_same_reads_however_many_subscribers_hear_it(api, world, settings_env, count_queries, copies):
    task_id, labelers, _ = await launched(api, world)
    after = (await api.data(CURSOR, {"o": world.ids["org"]}, world.manager))["organization"]["eventCursor"]
    variables = {"o": world.ids["org"], "a": after}
    async with AsyncExitStack() as stack:
        subscribers = Subscribers(api, settings_env, stack)
        contributors = [await subscribers.operation("contributor1", MINE, variables) for _ in range(copies)]
        labelers_ = [await subscribers.operation("labeler1", MINE, variables) for _ in range(copies)]
        manager = await subscribers.operation("manager1", MINE, variables)
        # Every subscription starts (and reads where it starts) on an event of its viewer's.
        await reassign(api, world, task_id, "labeler")
        await reassign(api, world, labelers, "manager")
        for stream, times in [*((c, 1) for c in contributors), *((lab, 2) for lab in labelers_), (manager, 1)]:
            for _ in range(times):
                assert (await stream.next())["kind"] == "REASSIGNED"
        # The contributor's task comes back: the event concerns the contributor and the labeler.
        await reassign(api, world, task_id, "contributor")
        concerned = contributors + labelers_
        with count_queries() as counter:
            updates = await asyncio.gather(*(s.next() for s in concerned))
        assert {(u["kind"], u["actor"]["username"], u["task"]["assignee"]["username"]) for u in updates} == {
            ("REASSIGNED", "manager1", "contributor1")}
        # One read of the roles of every subscribed viewer, one of the task, one of the users it
        # shows: the same for two subscribers as for six.
        assert [_table(s) for s in counter.statements] == ["membership", "task", "user"], counter.statements
        # The manager's subscription passes that event with no read of its own, then pays the
        # same three reads for the next one, theirs.
        await reassign(api, world, task_id, "manager")
        with count_queries() as counter:
            update = await manager.next()
        assert (update["kind"], update["task"]["assignee"]["username"]) == ("REASSIGNED", "manager1")
        assert [_table(s) for s in counter.statements] == ["membership", "task", "user"], counter.statements


async def test_a_removed_worker_ends_at_the_next_event_without_reads_of_their_own(api, world, settings_env, count_queries):
    """removeDatasetWorker: the contributor's subscriptions end at the next event of the
    campaign, one they are not concerned by, on the one shared read of the roles."""
    task_id, _, _ = await launched(api, world)
    after = (await api.data(CURSOR, {"o": world.ids["org"]}, world.manager))["organization"]["eventCursor"]
    variables = {"o": world.ids["org"], "a": after}
    async with AsyncExitStack() as stack:
        subscribers = Subscribers(api, settings_env, stack)
        removed = [await subscribers.operation("contributor1", MINE, variables) for _ in range(3)]
        labeler = await subscribers.operation("labeler1", MINE, variables)
        await reassign(api, world, task_id, "labeler")  # the contributor's task handed over
        for stream in (*removed, labeler):
            assert (await stream.next())["kind"] == "REASSIGNED"
        gone = await api.data(REMOVE, {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["contributor"]}}, world.manager)
        assert gone["removeDatasetWorker"]["errors"] == []
        await reassign(api, world, task_id, "manager")  # the labeler's: nothing to do with the contributor
        with count_queries() as counter:
            ended = await asyncio.gather(*(s.next() for s in removed))
        assert ended == [None] * 3
        assert [_table(s) for s in counter.statements] == ["membership"], counter.statements
        assert (await labeler.next())["kind"] == "REASSIGNED"


async def test_two_subscriptions_on_one_access_keep_their_own_roles(api, world, settings_env):
    """One websocket, one Access, two operations: myTaskUpdates reads a page of the log with the
    roles read for it; its sibling (taskUpdates), reading after the viewer was removed, is given
    roles read after the removal and ends; the first still delivers the rest of its page (events
    committed before the removal) and ends at its next event. Before, the sibling's roles,
    set on the shared Access, ended the first in the middle of its page."""
    task_id, _, campaign = await launched(api, world)
    after = (await api.data(CURSOR, {"o": world.ids["org"]}, world.manager))["organization"]["eventCursor"]
    campaign_after = (await api.data(CAMPAIGN_CURSOR, {"c": campaign}, world.manager))["campaign"]["eventCursor"]
    for to in ("labeler", "contributor", "labeler"):  # three events of the contributor's
        await reassign(api, world, task_id, to)
    access = Access(await User.get(username="contributor1"))
    async with AsyncExitStack() as stack:
        subscribers = Subscribers(api, settings_env, stack)
        first = await subscribers.operation("contributor1", MINE, {"o": world.ids["org"], "a": after}, access)
        sibling = await subscribers.operation("contributor1", CAMPAIGN_UPDATES, {"c": campaign, "a": campaign_after}, access)
        assert (await first.next())["kind"] == "REASSIGNED"  # the first of its page of three
        gone = await api.data(REMOVE, {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["contributor"]}}, world.manager)
        assert gone["removeDatasetWorker"]["errors"] == []
        await reassign(api, world, task_id, "manager")  # the next event: not theirs
        # It checks the viewer's roles as they are now (after the removal): it ends.
        assert await sibling.next() in (None, {"errors": ["No Campaign with this ID."]})
        assert [(await first.next())["kind"] for _ in range(2)] == ["REASSIGNED"] * 2
        assert await first.next() is None  # at the event after the removal


ISSUES = "subscription($c: ID!, $a: String) { issueUpdates(campaignId: $c, after: $a) { kind issue { id } actor { username } } }"
CREATE_ISSUE = "mutation($i: CreateIssueInput!) { createIssue(input: $i) { issue { id } errors { code } } }"
ASSET_OF = "query($t: ID!) { task(id: $t) { asset { id } } }"


@pytest.mark.parametrize("copies", [1, 3])
async def test_labelers_issue_updates_read_the_assets_task_once_per_event(api, world, settings_env, count_queries, copies):
    """A LABELER hears of issues on the assets of their own active tasks: the asset's task is
    read once per event for all of them (sees_issue), not once per subscriber."""
    _, task_id, campaign = await launched(api, world)
    asset = (await api.data(ASSET_OF, {"t": task_id}, world.labeler))["task"]["asset"]["id"]
    campaign_after = (await api.data(CAMPAIGN_CURSOR, {"c": campaign}, world.manager))["campaign"]["eventCursor"]
    async with AsyncExitStack() as stack:
        subscribers = Subscribers(api, settings_env, stack)
        labelers = [await subscribers.operation("labeler1", ISSUES, {"c": campaign, "a": campaign_after})
                    for _ in range(copies)]
        counts = []
        for body in ("The car is cut off.", "Missing a person."):
            raised = await act(api, CREATE_ISSUE, {"assetId": asset, "kind": "IMAGE", "body": body}, world.labeler)
            assert raised["errors"] == []
            with count_queries() as counter:
                updates = await asyncio.gather(*(s.next() for s in labelers))
            assert updates == [{"kind": "CREATED", "issue": raised["issue"], "actor": {"username": "labeler1"}}] * copies
            counts.append([_table(s) for s in counter.statements])
        # The second issue, in step: the viewer's roles, the issue, the asset's task, the actor:
        # once each, for one subscriber as for three.
        assert sorted(counts[1]) == ["issue", "membership", "task", "user"], counts[1]


async def test_the_roles_of_thousands_of_subscribers_are_read_whatever_their_number(api, world):
    """Each subscribed user's roles are re-read at every event: 6,000 users (12,000 parameters in
    one statement, past PostgreSQL's bound) still get theirs, and unknown ids get none."""
    from stepwise.models.queries.accounts import roles_of_user, roles_of_users
    from stepwise.schema.ids import parse_id

    contributor = parse_id(world.ids["contributor"])[1]
    ids = [*range(10**9, 10**9 + 6_000), contributor]
    roles = await roles_of_users(ids)
    assert set(roles) == set(ids)
    assert sorted(roles[contributor]) == sorted(tuple(row) for row in await roles_of_user(contributor))
    assert roles[contributor] and not any(roles[i] for i in ids[:-1])
