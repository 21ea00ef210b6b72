"""What the campaign feed (subscriptions/feeds.py) shares between subscribers, through the real
Subscription resolvers run in this process (real database, the app's own bus, real mutations) by
a client that reads at its own pace, so the test decides exactly where each subscriber is:
- a LABELER reading the log late is judged on the task as it is now: a row another subscriber
  read before a later reassign must not show them the task as it was (permissions/visibility.py);
- issueUpdates: however many subscribers, one read of the issue per event."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from campaign_helpers import LAUNCH, REWORK, START, SUBMIT, act, add_assets, all_tasks, campaign_with_steps
from in_process import Subscribers, next_data

from stepwise.schema.event_cursors import campaign_cursor
from stepwise.schema.ids import decode_id

pytestmark = pytest.mark.timeout(120)

STEPS = [("Annotate", "ANNOTATION", ["contributor1", "labeler1"]), ("Review", "REVIEW", ["manager1"])]
TASK_UPDATES = """subscription($c: ID!, $a: String) { taskUpdates(campaignId: $c, after: $a) {
  kind task { id status assignee { username } events { kind } } } }"""
ISSUE_UPDATES = """subscription($c: ID!, $a: String) { issueUpdates(campaignId: $c, after: $a) {
  kind cursor issue { id status } actor { username } } }"""
REASSIGN = """mutation($i: ReassignTaskInput!) { reassignTask(input: $i) { task { id } errors { code } } }"""
SUBSCRIBERS = 5


async def until(condition) -> None:
    """Waits for something the server reports (a feed's position), not for a length of time."""
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


async def launched(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, STEPS)
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    return campaign, decode_id(campaign, "Campaign")


async def test_a_labeler_reading_the_log_late_sees_a_task_as_it_is_now_not_as_another_read_it(api, world, settings_env):
    campaign, campaign_pk = await launched(api, world)
    mine = next(t for t in await all_tasks(api, world, campaign) if t["assignee"]["username"] == "labeler1")
    async with AsyncExitStack() as stack:
        subscribers = Subscribers(api, settings_env, stack)
        from_the_start = {"c": campaign, "a": campaign_cursor(campaign_pk, 0)}
        dashboard = await subscribers.results("manager1", TASK_UPDATES, from_the_start)
        labeler = await subscribers.results("labeler1", TASK_UPDATES, from_the_start)
        # The dashboard reads the launch's page (and with it the tasks' rows, shared) ...
        assert (await next_data(dashboard))["kind"] == "CREATED"
        # ... then the labeler's task is given to the contributor, while the labeler has read nothing.
        contributor_id = world.ids["contributor"]
        reassigned = await act(api, REASSIGN, {"taskId": mine["id"], "assigneeId": contributor_id}, world.manager)
        assert reassigned["errors"] == []
        await until(lambda: subscribers.feed(campaign_pk).known == 3)
        # The labeler hears of the task's creation, but the task is no longer theirs: it comes
        # sealed, where it is now (task(id) refuses them), not with what it held back then.
        created = await next_data(labeler)
        assert (created["kind"], created["task"]["id"]) == ("CREATED", mine["id"])
        assert created["task"]["assignee"]["username"] == "contributor1"
        assert created["task"]["events"] == []
        left = await next_data(labeler)
        assert (left["kind"], left["task"]["assignee"]["username"], left["task"]["events"]) == ("REASSIGNED", "contributor1", [])


async def test_issue_updates_read_each_issue_once_for_all_subscribers(api, world, settings_env, count_queries):
    campaign, campaign_pk = await launched(api, world)
    tasks = await all_tasks(api, world, campaign)
    tokens = {"contributor1": world.contributor, "labeler1": world.labeler}
    for task in tasks:
        token = tokens[task["assignee"]["username"]]
        assert (await act(api, START, {"taskId": task["id"]}, token))["errors"] == []
        assert (await act(api, SUBMIT, {"taskId": task["id"]}, token))["errors"] == []
    async with AsyncExitStack() as stack:
        subscribers = Subscribers(api, settings_env, stack)
        position = await _position(campaign_pk)
        streams = [await subscribers.results("manager1", ISSUE_UPDATES, {"c": campaign, "a": campaign_cursor(campaign_pk, position)})
                   for _ in range(SUBSCRIBERS)]
        counts = []
        for body in ("The car is cut off.", "Missing a person."):
            review = next(t for t in await all_tasks(api, world, campaign) if t["step"] and t["step"]["name"] == "Review")
            issue = {"kind": "IMAGE", "body": body}
            assert (await act(api, REWORK, {"taskId": review["id"], "issue": issue}, world.manager))["errors"] == []
            if counts:  # the feed has heard of both of the rework's events (its task's, its issue's)
                end = await _position(campaign_pk)
                await until(lambda: subscribers.feed(campaign_pk).known == end)
            with count_queries() as counter:
                updates = await asyncio.gather(*(next_data(s) for s in streams))
            assert len({u["issue"]["id"] for u in updates}) == 1
            assert [(u["kind"], u["issue"]["status"], u["actor"]["username"]) for u in updates] == [("CREATED", "OPEN", "manager1")] * SUBSCRIBERS
            counts.append(counter.statements)
        # The first rework also started the five subscriptions (each reads its campaign, the
        # viewer's roles, the log's position). The second is the events alone, in step on the bus:
        # for all five, one read of the issue and one of its actor. Not one of them per
        # subscriber. The viewer's roles were read once too, by the feed before it handed out the
        # events (after they committed), so before this count (tests/api/test_campaign_feeds.py).
        assert sum('FROM "issue"' in statement for statement in counts[0]) == 1
        assert [_table(statement) for statement in counts[1]] == ["issue", "user"], counts[1]


def _table(statement: str) -> str:
    return statement.split(" FROM ")[1].split()[0].strip('"')


async def _position(campaign_pk: int) -> int:
    from stepwise.models.queries.event_log import log_position

    return await log_position(campaign_pk)
