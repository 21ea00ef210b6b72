"""Two real `stepwise serve` processes on one PostgreSQL database with the PostgreSQL
LISTEN/NOTIFY broker: a subscriber on B receives, in commit order and without loss or repeat,
the updates committed through A (two workers at once), and after a reconnect resumes from its
last cursor with exactly what it missed."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
import websockets

from campaign_helpers import LAUNCH, START, SUBMIT, act, add_assets, all_tasks, campaign_with_steps
from conftest import Api, build_world, running_server

pytestmark = pytest.mark.timeout(180)

TASK_UPDATES = ("subscription($c: ID!, $a: String) { taskUpdates(campaignId: $c, after: $a) "
                "{ kind cursor task { id } } }")
CURSOR = "query($c: ID!) { campaign(id: $c) { eventCursor } }"
STEPS = [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])]


@pytest.fixture
def two_processes(settings_env):
    if not settings_env["STEPWISE_DATABASE_URL"].startswith("postgres"):
        pytest.skip("the PostgreSQL broker needs the PostgreSQL database")
    env = {**settings_env, "STEPWISE_BROKER_URL": settings_env["STEPWISE_DATABASE_URL"]}
    with running_server(env) as a, running_server(env) as b:
        yield a, b


async def subscribed(url: str, token: str, variables: dict):
    socket = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": TASK_UPDATES, "variables": variables}}))
    return socket


async def updates(socket, count: int) -> list[dict]:
    got = []
    while len(got) < count:
        message = json.loads(await asyncio.wait_for(socket.recv(), 15))
        assert message["type"] == "next" and "errors" not in message["payload"], message
        got.append(message["payload"]["data"]["taskUpdates"])
    return got


def seq_of(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().rsplit(":", 1)[1])


async def nothing_more(socket) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(socket.recv(), 0.5)


async def test_updates_through_one_process_reach_a_subscriber_on_the_other_in_order_and_resume(two_processes):
    a, b = two_processes
    async with httpx.AsyncClient(base_url=a, timeout=60) as on_a, httpx.AsyncClient(base_url=b, timeout=60) as on_b:
        api_a, api_b = Api(on_a), Api(on_b)
        world = await build_world(api_a)
        await add_assets(api_a, world, [f"{i:02}.jpg" for i in range(8)])
        campaign, _ = await campaign_with_steps(api_a, world, STEPS)
        assert (await api_a.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
        tasks = await all_tasks(api_a, world, campaign)
        tokens = {"labeler1": world.labeler, "contributor1": world.contributor}
        start = (await api_b.data(CURSOR, {"c": campaign}, world.manager))["campaign"]["eventCursor"]
        url_b = b.replace("http", "ws") + "/graphql"
        socket = await subscribed(url_b, world.manager, {"c": campaign, "a": start})

        async def work(task_ids: list[str], token: str) -> None:
            for task_id in task_ids:
                assert (await act(api_a, START, {"taskId": task_id}, token))["errors"] == []
                assert (await act(api_a, SUBMIT, {"taskId": task_id}, token))["errors"] == []

        def of(worker: str, among: list[dict]) -> list[str]:
            return [t["id"] for t in among if t["assignee"]["username"] == worker]

        # Both workers at once on A: 8 updates, as many cursors, in the log's order.
        await asyncio.gather(*(work(of(w, tasks[:4]), tokens[w]) for w in tokens))
        first = await updates(socket, 8)
        begin = seq_of(start)
        assert [seq_of(u["cursor"]) for u in first] == list(range(begin + 1, begin + 9))  # log order, no hole
        assert sorted((u["task"]["id"], u["kind"]) for u in first) == sorted(
            (t["id"], kind) for t in tasks[:4] for kind in ("STARTED", "SUBMITTED"))
        for task in tasks[:4]:  # each task's own updates in their order
            assert [u["kind"] for u in first if u["task"]["id"] == task["id"]] == ["STARTED", "SUBMITTED"]
        await nothing_more(socket)
        await socket.close()

        # Disconnected from B while A commits more; back on B with the last cursor.
        await asyncio.gather(*(work(of(w, tasks[4:]), tokens[w]) for w in tokens))
        socket = await subscribed(url_b, world.manager, {"c": campaign, "a": first[-1]["cursor"]})
        missed = await updates(socket, 8)
        assert [seq_of(u["cursor"]) for u in missed] == list(range(begin + 9, begin + 17))
        assert sorted((u["task"]["id"], u["kind"]) for u in missed) == sorted(
            (t["id"], kind) for t in tasks[4:] for kind in ("STARTED", "SUBMITTED"))
        assert not {u["cursor"] for u in missed} & {u["cursor"] for u in first}
        await nothing_more(socket)
        # And live again, from A.
        review = (await all_tasks(api_a, world, campaign))[0]
        assert review["step"]["name"] == "Review"
        assert (await act(api_a, START, {"taskId": review["id"]}, world.manager))["errors"] == []
        [live] = await updates(socket, 1)
        assert (live["kind"], live["task"]["id"]) == ("STARTED", review["id"])
        await socket.close()
