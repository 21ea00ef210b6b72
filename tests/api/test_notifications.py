"""Notifications (RULES.md): each MANAGER worker of a campaign with a due date is told once when it
is due within 24 hours, once when it is OVERDUE and once when it COMPLETED; two processes sending
at once still send each one once. The job's tick is called directly, under a fake clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from campaign_helpers import LAUNCH, SUBMIT, act, add_assets, all_tasks, campaign_with_steps

from stepwise.models import clock as server_clock
from stepwise.models.db import sql
from stepwise.notifier import notify_due
from stepwise.schema.ids import encode_id

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
LIST = """query($u: Boolean, $first: Int, $after: String) { notifications(unreadOnly: $u, first: $first, after: $after) {
  id kind read createdAt campaign { id } } }"""
MARK = """mutation($i: MarkNotificationsReadInput!) { markNotificationsRead(input: $i) {
  notifications { id read } errors { code field } } }"""
ADD_WORKER = "mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { errors { code } } }"


@pytest.fixture
def fake_clock():
    state = {"now": T0}
    server_clock.set_clock(lambda: state["now"])
    yield state
    server_clock.set_clock(None)


async def tick(api, fake_clock, hours: float) -> list[tuple[str, str]]:
    """The job's tick at T0 + `hours`: (kind, username) of what it sent."""
    fake_clock["now"] = T0 + timedelta(hours=hours)
    sent = await notify_due(api.app.state.bus)
    return sorted(await _described(sent))


async def _described(sent) -> list[tuple[str, str]]:
    rows = []
    for event in sent:
        rows += await sql.fetch("SELECT n.kind, u.username FROM notification n JOIN \"user\" u ON u.id = n.user_id"
                                " WHERE n.id = ?", [event.notification_id])
    return [tuple(row) for row in rows]


async def due_campaign(api, world, due_in_hours: float | None, launch: bool = True) -> tuple[str, list[dict]]:
    """One step [labeler1], one asset; member1 is a second MANAGER; due at T0 + due_in_hours."""
    assert (await api.data(ADD_WORKER, {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["member"],
                                              "role": "MANAGER"}}, world.manager))["addDatasetWorker"]["errors"] == []
    await add_assets(api, world, ["a.jpg"])
    settings = {} if due_in_hours is None else {"dueDate": (T0 + timedelta(hours=due_in_hours)).isoformat()}
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])], **settings)
    if launch:
        assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    return campaign, (await all_tasks(api, world, campaign)) if launch else []


async def test_each_manager_hears_due_soon_overdue_and_completed_once(api, world, fake_clock):
    campaign, (task,) = await due_campaign(api, world, due_in_hours=30)
    managers = ["manager1", "member1"]  # the listed MANAGERs; the ADMIN acts as one but is not told
    assert await tick(api, fake_clock, 0) == []  # due in 30 h
    assert await tick(api, fake_clock, 7) == [("DUE_SOON", m) for m in managers]  # due in 23 h
    assert await tick(api, fake_clock, 8) == []
    assert await tick(api, fake_clock, 30) == []  # due now: not past it yet
    assert await tick(api, fake_clock, 30.5) == [("OVERDUE", m) for m in managers]
    assert await tick(api, fake_clock, 31) == []
    assert (await act(api, SUBMIT, {"taskId": task["id"]}, world.labeler))["errors"] == []
    assert await tick(api, fake_clock, 32) == [("COMPLETED", m) for m in managers]
    assert await tick(api, fake_clock, 33) == []

    listed = (await api.data(LIST, {}, world.manager))["notifications"]
    assert [(n["kind"], n["read"], n["campaign"]["id"]) for n in listed] == [
        ("COMPLETED", False, campaign), ("OVERDUE", False, campaign), ("DUE_SOON", False, campaign)]
    assert [datetime.fromisoformat(n["createdAt"]) for n in listed] == [
        T0 + timedelta(hours=h) for h in (32, 30.5, 7)]
    for token in (world.admin, world.contributor, world.labeler, world.outsider):
        assert (await api.data(LIST, {}, token))["notifications"] == []


async def test_a_campaign_due_in_the_past_is_overdue_at_once_without_due_soon(api, world, fake_clock):
    await due_campaign(api, world, due_in_hours=-1)
    assert await tick(api, fake_clock, 0) == [("OVERDUE", "manager1"), ("OVERDUE", "member1")]


async def test_no_due_date_or_not_launched_notifies_nothing(api, world, fake_clock):
    await due_campaign(api, world, due_in_hours=2, launch=False)  # a DRAFT due soon
    assert await tick(api, fake_clock, 0) == []
    assert await tick(api, fake_clock, 3) == []


async def test_completed_without_a_due_date_notifies_nothing(api, world, fake_clock):
    _, (task,) = await due_campaign(api, world, due_in_hours=None)
    assert (await act(api, SUBMIT, {"taskId": task["id"]}, world.labeler))["errors"] == []
    assert await tick(api, fake_clock, 1) == []


async def test_two_processes_ticking_at_once_send_each_notification_once(api, world, fake_clock):
    _, (task,) = await due_campaign(api, world, due_in_hours=10)
    bus = api.app.state.bus
    for hours in (0, 11):  # DUE_SOON, then OVERDUE
        fake_clock["now"] = T0 + timedelta(hours=hours)
        first, second = await asyncio.gather(notify_due(bus), notify_due(bus))
        assert len(first) + len(second) == 2, (first, second)
    assert (await act(api, SUBMIT, {"taskId": task["id"]}, world.labeler))["errors"] == []
    results = await asyncio.gather(*(notify_due(bus) for _ in range(4)))
    assert sum(len(sent) for sent in results) == 2
    rows = await sql.fetch("SELECT kind, COUNT(*) FROM notification GROUP BY kind ORDER BY kind")
    assert [tuple(row) for row in rows] == [("COMPLETED", 2), ("DUE_SOON", 2), ("OVERDUE", 2)]


async def test_mark_read_unread_only_and_pages(api, world, fake_clock):
    _, (task,) = await due_campaign(api, world, due_in_hours=10)
    await tick(api, fake_clock, 0)
    await tick(api, fake_clock, 11)
    assert (await act(api, SUBMIT, {"taskId": task["id"]}, world.labeler))["errors"] == []
    await tick(api, fake_clock, 12)
    completed, overdue, due_soon = (n["id"] for n in (await api.data(LIST, {}, world.manager))["notifications"])

    marked = (await api.data(MARK, {"i": {"ids": [overdue, overdue]}}, world.manager))["markNotificationsRead"]
    assert marked == {"notifications": [{"id": overdue, "read": True}], "errors": []}
    unread = (await api.data(LIST, {"u": True}, world.manager))["notifications"]
    assert [n["id"] for n in unread] == [completed, due_soon]
    # Pages: newest first, `after` the last ID received.
    page = (await api.data(LIST, {"first": 1}, world.manager))["notifications"]
    assert [n["id"] for n in page] == [completed]
    page = (await api.data(LIST, {"first": 2, "after": completed}, world.manager))["notifications"]
    assert [n["id"] for n in page] == [overdue, due_soon]
    body = await api.post(LIST, {"first": 501}, world.manager)
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    body = await api.post(LIST, {"after": "garbage"}, world.manager)
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"

    # Someone else's notification (or none at all) is NOT_FOUND, and nothing is marked.
    member_first = (await api.data(LIST, {}, world.member))["notifications"][0]["id"]
    for ids in ([completed, member_first], [completed, encode_id("Notification", 987_654)]):
        body = await api.post(MARK, {"i": {"ids": ids}}, world.manager)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND" and body["data"] is None
    assert [n["id"] for n in (await api.data(LIST, {"u": True}, world.manager))["notifications"]] == [completed, due_soon]
    too_many = (await api.data(MARK, {"i": {"ids": [completed] * 501}}, world.manager))["markNotificationsRead"]
    assert too_many == {"notifications": [], "errors": [{"code": "INVALID_INPUT", "field": "input.ids"}]}


async def test_a_notification_is_a_node_of_its_user_alone(api, world, fake_clock):
    await due_campaign(api, world, due_in_hours=1)
    await tick(api, fake_clock, 0)
    (mine,) = (await api.data(LIST, {}, world.manager))["notifications"]
    node = "query($id: ID!) { node(id: $id) { id ... on Notification { kind } } }"
    assert (await api.data(node, {"id": mine["id"]}, world.manager))["node"] == {"id": mine["id"], "kind": "DUE_SOON"}
    for token in (world.member, world.admin):
        body = await api.post(node, {"id": mine["id"]}, token)
        assert body["data"]["node"] is None and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_removing_a_manager_from_the_dataset_removes_their_notifications(api, world, fake_clock):
    await due_campaign(api, world, due_in_hours=1)
    await tick(api, fake_clock, 0)
    removed = await api.data("mutation($i: RemoveDatasetWorkerInput!) { removeDatasetWorker(input: $i) { errors { code } } }",
                             {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["member"]}}, world.manager)
    assert removed["removeDatasetWorker"]["errors"] == []
    assert (await api.data(LIST, {}, world.member))["notifications"] == []
    assert len((await api.data(LIST, {}, world.manager))["notifications"]) == 1


async def test_the_list_costs_one_statement_and_one_campaign_batch(api, world, fake_clock, count_queries):
    _, (task,) = await due_campaign(api, world, due_in_hours=10)
    await tick(api, fake_clock, 0)
    await tick(api, fake_clock, 11)
    assert (await act(api, SUBMIT, {"taskId": task["id"]}, world.labeler))["errors"] == []
    await tick(api, fake_clock, 12)
    with count_queries() as baseline:  # authentication alone
        await api.data("query { me { id } }", None, world.manager)
    with count_queries() as listed:
        data = await api.data("query { notifications { id kind campaign { id status dueDate } } }", None, world.manager)
    assert len(data["notifications"]) == 3
    assert len(listed.statements) - len(baseline.statements) == 2, listed.statements


async def test_the_subscription_catches_up_from_the_database_after_lost_messages(api, world, fake_clock):
    """A notification whose bus message was lost (the broker went away meanwhile: the bus gives
    the subscription GAP) is read from the database and delivered once."""
    from types import SimpleNamespace

    from stepwise.models.db.accounts import User
    from stepwise.permissions.access import Access
    from stepwise.schema.context import Context
    from stepwise.subscriptions.channels import user_notifications
    from stepwise.subscriptions.notifications import viewer_notifications

    campaign, _ = await due_campaign(api, world, due_in_hours=2)
    bus = api.app.state.bus
    manager = await User.get(username="manager1")
    context = Context(request=SimpleNamespace(state=SimpleNamespace(bus=bus)), response=None, settings=None,
                      access=Access(manager), request_id="test")
    stream = viewer_notifications(SimpleNamespace(context=context))
    first = asyncio.ensure_future(stream.__anext__())
    while not bus._inboxes.get(user_notifications(manager.id)):  # the subscription is registered
        await asyncio.sleep(0.01)
    fake_clock["now"] = T0
    sent = await notify_due(None)  # written, never published: as if the broker had lost it
    assert [event.user_id for event in sent if event.user_id == manager.id]
    assert not first.done()
    bus._gap_everyone()  # what the bus does after a reconnect
    delivered = await asyncio.wait_for(first, 10)
    assert getattr(delivered.kind, "value", delivered.kind) == "DUE_SOON"
    # Told again (a second GAP), the subscription does not deliver it twice.
    bus._gap_everyone()
    second = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.2)  # (an absence: nothing to wait for)
    assert not second.done()
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
