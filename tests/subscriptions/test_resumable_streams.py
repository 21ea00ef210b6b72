"""Resumable streams over real websockets against a real uvicorn: `after:` cursors, the snapshot's
`eventCursor`, a slow reader of a big launch, and refused cursors (BAD_REQUEST).

Subscribing with `after:` needs no wait for the subscription to register: whatever commits
before it does is read from the log."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
import websockets

from campaign_helpers import ASSETS, LAUNCH, START, SUBMIT, act, add_assets, all_tasks, campaign_with_steps
from conftest import Api, build_world
from stepwise.schema.event_cursors import campaign_cursor
from stepwise.schema.ids import decode_id

pytestmark = pytest.mark.timeout(300)

STEPS = [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])]
TASK_UPDATES = ("subscription($c: ID!, $a: String) { taskUpdates(campaignId: $c, after: $a) "
                "{ kind cursor actor { username } task { id asset { filename } } } }")
MY_UPDATES = ("subscription($o: ID!, $a: String) { myTaskUpdates(organizationId: $o, after: $a) "
              "{ kind cursor task { id } } }")
ISSUE_UPDATES = "subscription($c: ID!, $a: String) { issueUpdates(campaignId: $c, after: $a) { kind cursor } }"
CAMPAIGN_CURSOR = "query($c: ID!) { campaign(id: $c) { tasks(first: 10) { totalCount } eventCursor } }"
ORGANIZATION_CURSOR = "query($o: ID!) { organization(id: $o) { eventCursor } }"


@pytest.fixture
async def live(live_server):
    """A world with a two-step campaign of four assets on a real server, still DRAFT."""
    async with httpx.AsyncClient(base_url=live_server, timeout=120) as client:
        api = Api(client)
        world = await build_world(api)
        await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
        campaign, _ = await campaign_with_steps(api, world, STEPS)
        yield api, world, campaign, live_server.replace("http", "ws") + "/graphql"


async def subscribed(url: str, token: str, query: str, variables: dict):
    socket = await websockets.connect(url, subprotocols=["graphql-transport-ws"], max_size=None)
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
    return socket


async def updates(socket, count: int, timeout: float = 10) -> list[dict]:
    got = []
    while len(got) < count:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        assert message["type"] == "next" and "errors" not in message["payload"], message
        got.append(next(iter(message["payload"]["data"].values())))
    return got


async def nothing_more(socket) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(socket.recv(), 0.5)


async def refusal_code(url: str, token: str, query: str, variables: dict) -> str:
    socket = await subscribed(url, token, query, variables)
    message = json.loads(await asyncio.wait_for(socket.recv(), 5))
    await socket.close()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    return errors[0]["extensions"]["code"]


async def test_resume_after_a_disconnect_gives_exactly_the_missed_updates_then_live_ones(live):
    api, world, campaign, url = live
    snapshot = (await api.data(CAMPAIGN_CURSOR, {"c": campaign}, world.manager))["campaign"]
    assert snapshot["tasks"]["totalCount"] == 0
    # Subscribed from the snapshot's cursor: the launch, committed after it, arrives in full.
    socket = await subscribed(url, world.manager, TASK_UPDATES, {"c": campaign, "a": snapshot["eventCursor"]})
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    created = await updates(socket, 4)
    assert [(u["kind"], u["task"]["asset"]["filename"]) for u in created] == [
        ("CREATED", name) for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg")]
    tasks = await all_tasks(api, world, campaign)
    assert (await act(api, START, {"taskId": tasks[0]["id"]}, world.labeler))["errors"] == []
    [started] = await updates(socket, 1)
    assert started["kind"] == "STARTED" and len({u["cursor"] for u in [*created, started]}) == 5
    await socket.close()

    # Disconnected: three changes commit meanwhile.
    assert (await act(api, SUBMIT, {"taskId": tasks[0]["id"]}, world.labeler))["errors"] == []
    assert (await act(api, START, {"taskId": tasks[1]["id"]}, world.contributor))["errors"] == []
    assert (await act(api, SUBMIT, {"taskId": tasks[1]["id"]}, world.contributor))["errors"] == []
    socket = await subscribed(url, world.manager, TASK_UPDATES, {"c": campaign, "a": started["cursor"]})
    missed = await updates(socket, 3)
    assert [(u["kind"], u["actor"]["username"], u["task"]["id"]) for u in missed] == [
        ("SUBMITTED", "labeler1", tasks[0]["id"]), ("STARTED", "contributor1", tasks[1]["id"]),
        ("SUBMITTED", "contributor1", tasks[1]["id"])]
    await nothing_more(socket)  # no repeat
    # Then live.
    assert (await act(api, START, {"taskId": tasks[2]["id"]}, world.labeler))["errors"] == []
    [live_update] = await updates(socket, 1)
    assert live_update["kind"] == "STARTED" and live_update["task"]["id"] == tasks[2]["id"]
    await nothing_more(socket)
    await socket.close()

    # The same, resumed from the middle: from the first missed update's cursor, the two after it.
    socket = await subscribed(url, world.manager, TASK_UPDATES, {"c": campaign, "a": missed[0]["cursor"]})
    assert [u["cursor"] for u in await updates(socket, 3)] == [missed[1]["cursor"], missed[2]["cursor"],
                                                               live_update["cursor"]]
    await nothing_more(socket)
    await socket.close()


async def test_my_task_updates_resume_across_the_organization(live):
    api, world, campaign, url = live
    start = (await api.data(ORGANIZATION_CURSOR, {"o": world.ids["org"]}, world.labeler))["organization"]["eventCursor"]
    socket = await subscribed(url, world.labeler, MY_UPDATES, {"o": world.ids["org"], "a": start})
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    tasks = await all_tasks(api, world, campaign)
    mine = [t["id"] for t in tasks if t["assignee"]["username"] == "labeler1"]
    created = await updates(socket, 2)  # a.jpg and c.jpg are the labeler's (round robin)
    assert [(u["kind"], u["task"]["id"]) for u in created] == [("CREATED", t) for t in mine]
    await socket.close()
    assert (await act(api, START, {"taskId": mine[0]}, world.labeler))["errors"] == []
    assert (await act(api, START, {"taskId": tasks[1]["id"]}, world.contributor))["errors"] == []  # not theirs
    assert (await act(api, SUBMIT, {"taskId": mine[0]}, world.labeler))["errors"] == []
    socket = await subscribed(url, world.labeler, MY_UPDATES, {"o": world.ids["org"], "a": created[-1]["cursor"]})
    assert [(u["kind"], u["task"]["id"]) for u in await updates(socket, 2)] == [("STARTED", mine[0]),
                                                                              ("SUBMITTED", mine[0])]
    await nothing_more(socket)
    await socket.close()


async def test_bad_cursors_are_bad_requests(live):
    api, world, campaign, url = live
    other_cursor = campaign_cursor(decode_id(campaign, "Campaign") + 1000, 0)
    org_cursor = (await api.data(ORGANIZATION_CURSOR, {"o": world.ids["org"]}, world.manager))["organization"]["eventCursor"]
    campaign_position = (await api.data(CAMPAIGN_CURSOR, {"c": campaign}, world.manager))["campaign"]["eventCursor"]
    ahead = campaign_cursor(decode_id(campaign, "Campaign"), 99)
    for bad in ("nope", "", other_cursor, org_cursor, ahead):
        assert await refusal_code(url, world.manager, TASK_UPDATES, {"c": campaign, "a": bad}) == "BAD_REQUEST", bad
        assert await refusal_code(url, world.manager, ISSUE_UPDATES, {"c": campaign, "a": bad}) == "BAD_REQUEST", bad
    outsider_org = (await api.data("query { organizations { id } }", {}, world.outsider))["organizations"][0]["id"]
    foreign = (await api.data(ORGANIZATION_CURSOR, {"o": outsider_org}, world.outsider))["organization"]["eventCursor"]
    for bad in ("nope", campaign_position, foreign):
        assert await refusal_code(url, world.manager, MY_UPDATES, {"o": world.ids["org"], "a": bad}) == "BAD_REQUEST", bad


async def test_a_slow_subscriber_reads_a_20000_task_launch_in_full_and_in_order(live):
    api, world, campaign, url = live
    for start in (0, 10_000):
        assets = [{"filename": f"x{i:05}.jpg", "width": 10, "height": 10} for i in range(start, start + 10_000)]
        payload = await api.data(ASSETS, {"i": {"datasetVersionId": world.ids["version"], "assets": assets}}, world.manager)
        assert payload["addAssets"]["errors"] == []
    cursor = (await api.data(CAMPAIGN_CURSOR, {"c": campaign}, world.manager))["campaign"]["eventCursor"]
    query = "subscription($c: ID!, $a: String) { taskUpdates(campaignId: $c, after: $a) { kind cursor } }"
    socket = await subscribed(url, world.manager, query, {"c": campaign, "a": cursor})
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    received = []
    while len(received) < 20_004:
        if len(received) % 5_000 == 0:
            await asyncio.sleep(1)  # a slow reader: the server waits for it, holding nothing more
        received += await updates(socket, 1, timeout=30)
    assert {u["kind"] for u in received} == {"CREATED"}
    seqs = [decode_cursor_seq(u["cursor"]) for u in received]
    assert seqs == list(range(1, 20_005))  # in log order, none missed, none twice
    await nothing_more(socket)
    await socket.close()


def decode_cursor_seq(cursor: str) -> int:
    """The seq a campaign cursor names (its format is this server's own: log:c<campaign>:<seq>)."""
    return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().rsplit(":", 1)[1])


async def test_campaign_progress_is_pushed_after_a_launch_and_after_new_assets(live):
    api, world, campaign, url = live
    query = "subscription($c: ID!) { campaignProgress(campaignId: $c) { totalTasks inProgress } }"
    socket = await subscribed(url, world.manager, query, {"c": campaign})
    assert await updates(socket, 1) == [{"totalTasks": 0, "inProgress": 0}]  # the current value, at once
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    assert await updates(socket, 1) == [{"totalTasks": 4, "inProgress": 4}]
    await add_assets(api, world, ["e.jpg"])
    assert await updates(socket, 1) == [{"totalTasks": 5, "inProgress": 5}]
    await socket.close()


async def test_event_cursor_through_a_nested_path_on_a_long_lived_socket_is_current(live):
    """Queries over one websocket share its connection: a position read for an earlier query
    must not come back, stale, to a later query that reaches the campaign another way."""
    api, world, campaign, url = live
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    socket = await subscribed(url, world.manager, "query($c: ID!) { campaign(id: $c) { eventCursor } }", {"c": campaign})
    [first] = await updates(socket, 1)
    assert first["eventCursor"] == campaign_cursor(decode_id(campaign, "Campaign"), 4)  # four CREATED
    tasks = await all_tasks(api, world, campaign)
    assert (await act(api, START, {"taskId": tasks[0]["id"]}, world.labeler if tasks[0]["assignee"]["username"] == "labeler1"
                      else world.contributor))["errors"] == []
    nested = "query($o: ID!) { organization(id: $o) { campaigns(first: 5) { edges { node { id eventCursor } } } } }"
    await socket.send(json.dumps({"id": "2", "type": "subscribe", "payload": {"query": nested, "variables": {"o": world.ids["org"]}}}))
    while (message := json.loads(await asyncio.wait_for(socket.recv(), 10)))["type"] != "next":
        pass
    [edge] = message["payload"]["data"]["organization"]["campaigns"]["edges"]
    assert edge["node"]["eventCursor"] == campaign_cursor(decode_id(campaign, "Campaign"), 5)
    await socket.close()


async def test_my_task_updates_hears_the_launch_of_a_dataset_the_viewer_joined_while_subscribed(live):
    """A LABELER made a worker of another dataset while their myTaskUpdates runs receives a
    CREATED update for each of their tasks when that dataset's campaign launches: whether they
    follow a campaign is judged on their roles as they are then, not as they were."""
    api, world, campaign, url = live
    socket = await subscribed(url, world.labeler, MY_UPDATES, {"o": world.ids["org"], "a": None})
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    theirs = [t for t in await all_tasks(api, world, campaign) if t["assignee"]["username"] == "labeler1"]
    assert {u["kind"] for u in await updates(socket, len(theirs))} == {"CREATED"}  # live, roles read

    other = await api.data("mutation($i: CreateDatasetInput!) { createDataset(input: $i) { dataset { id } } }",
                           {"i": {"organizationId": world.ids["org"], "name": "Elsewhere"}}, world.manager)
    dataset = other["createDataset"]["dataset"]["id"]
    joined = await api.data("mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { errors { code } } }",
                            {"i": {"datasetId": dataset, "userId": world.ids["labeler"]}}, world.manager)
    assert joined["addDatasetWorker"]["errors"] == []
    version = await api.data(
        "mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) { datasetVersion { id } } }",
        {"i": {"datasetId": dataset, "name": "v1", "labels": ["car"]}}, world.manager)
    elsewhere = type(world)(**{**vars(world), "ids": {**world.ids, "dataset": dataset,
                                                      "version": version["createDatasetVersion"]["datasetVersion"]["id"]}})
    await add_assets(api, elsewhere, ["x.jpg", "y.jpg"])
    second, _ = await campaign_with_steps(api, elsewhere, [("Annotate", "ANNOTATION", ["labeler1"])])
    assert (await api.data(LAUNCH, {"c": second}, world.manager))["launchCampaign"]["errors"] == []
    got = await updates(socket, 2)
    assert [u["kind"] for u in got] == ["CREATED", "CREATED"]
    assert {u["task"]["id"] for u in got} == {t["id"] for t in await all_tasks(api, world, second)}
    await socket.close()
