"""The `notifications` subscription over a real uvicorn and websocket, fed by the server's own job
(ticking every 0.2 s here): each MANAGER receives DUE_SOON, OVERDUE and COMPLETED once, a LABELER
nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets

from campaign_helpers import LAUNCH, SUBMIT, UPDATE, act, add_assets, all_tasks, campaign_with_steps
from conftest import REDIS_URL, Api, _require, build_world, running_server

NOTIFICATIONS = "subscription { notifications { kind read campaign { id } } }"
PROGRESS = "subscription($c: ID!) { campaignProgress(campaignId: $c) { totalTasks } }"


@pytest.fixture
def fast_notifier(settings_env):
    with running_server({**settings_env, "STEPWISE_NOTIFICATION_INTERVAL_SECONDS": "0.2"}) as base:
        yield base


async def receive(socket, timeout: float = 10) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def subscribed(url: str, token: str, campaign: str):
    """A socket with `notifications` subscribed. The subscribe of campaignProgress sent after it
    answers with a snapshot once it is registered on the bus; both take the bus's subscribe lock
    in the order they were sent, so that first message says `notifications` is registered too."""
    socket = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    assert (await receive(socket))["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "n", "type": "subscribe", "payload": {"query": NOTIFICATIONS}}))
    await socket.send(json.dumps({"id": "p", "type": "subscribe", "payload": {"query": PROGRESS, "variables": {"c": campaign}}}))
    first = await receive(socket)
    assert first["id"] == "p", first
    return socket


async def next_notification(socket) -> dict:
    while True:
        message = await receive(socket)
        if message["id"] == "n":
            assert message["type"] == "next", message
            return message["payload"]["data"]["notifications"]


async def ids_heard_within(socket, seconds: float) -> set[str]:
    """The subscription ids of the messages that arrive within `seconds`."""
    heard = set()
    while True:
        try:
            heard.add((await receive(socket, timeout=seconds))["id"])
        except TimeoutError:
            return heard


async def test_managers_receive_each_notification_once_over_a_websocket(fast_notifier):
    async with httpx.AsyncClient(base_url=fast_notifier, timeout=30) as client:
        api = Api(client)
        world = await build_world(api)
        await add_assets(api, world, ["a.jpg"])
        campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])])
        await api.data(LAUNCH, {"c": campaign}, world.manager)
        (task,) = await all_tasks(api, world, campaign)
        url = fast_notifier.replace("http", "ws") + "/graphql"
        manager = await subscribed(url, world.manager, campaign)
        contributor = await subscribed(url, world.contributor, campaign)  # a worker, not a MANAGER

        async def due_in(delta: timedelta) -> None:
            due = (datetime.now(UTC) + delta).isoformat()
            assert (await api.data(UPDATE, {"i": {"campaignId": campaign, "dueDate": due}}, world.manager))["updateCampaign"]["errors"] == []

        await due_in(timedelta(hours=2))
        assert await next_notification(manager) == {"kind": "DUE_SOON", "read": False, "campaign": {"id": campaign}}
        await due_in(-timedelta(minutes=1))
        assert await next_notification(manager) == {"kind": "OVERDUE", "read": False, "campaign": {"id": campaign}}
        assert (await act(api, SUBMIT, {"taskId": task["id"]}, world.labeler))["errors"] == []
        assert (await next_notification(manager))["kind"] == "COMPLETED"
        # Nothing more for a second of ticks: each kind was sent once. The contributor heard only progress.
        for socket in (manager, contributor):
            assert await ids_heard_within(socket, 1.0) <= {"p"}
        listed = await api.data("query { notifications { kind } }", None, world.manager)
        assert [n["kind"] for n in listed["notifications"]] == ["COMPLETED", "OVERDUE", "DUE_SOON"]
        await manager.close()
        await contributor.close()


async def test_two_processes_on_one_database_and_redis_send_each_notification_once(settings_env):
    """Both processes run the job on the same database; the manager listens on the other one
    than the mutations go to: each notification arrives once, through Redis."""
    redis = _require(REDIS_URL, "Redis", "STEPWISE_TEST_REDIS_URL")
    env = {**settings_env, "STEPWISE_NOTIFICATION_INTERVAL_SECONDS": "0.1", "STEPWISE_BROKER_URL": redis}
    with running_server(env) as first, running_server(env) as second:
        async with httpx.AsyncClient(base_url=first, timeout=30) as client:
            api = Api(client)
            world = await build_world(api)
            await add_assets(api, world, ["a.jpg"])
            campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])])
            await api.data(LAUNCH, {"c": campaign}, world.manager)
            (task,) = await all_tasks(api, world, campaign)
            manager = await subscribed(second.replace("http", "ws") + "/graphql", world.manager, campaign)
            due = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
            assert (await api.data(UPDATE, {"i": {"campaignId": campaign, "dueDate": due}}, world.manager))["updateCampaign"]["errors"] == []
            assert (await next_notification(manager))["kind"] == "OVERDUE"
            assert (await act(api, SUBMIT, {"taskId": task["id"]}, world.labeler))["errors"] == []
            assert (await next_notification(manager))["kind"] == "COMPLETED"
            assert await ids_heard_within(manager, 1.0) <= {"p"}  # a second of both jobs ticking: no repeat
            await manager.close()
