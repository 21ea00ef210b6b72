"""campaignProgress over a real uvicorn, both protocols: a change is computed once for the
campaign (subscriptions/progress.py) and, for subscribers with the same document and roles,
executed and serialized once (counted by /health's `fanout`), every one of them receiving the
same payload in its own envelope."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from campaign_helpers import START, SUBMIT, act, launched_annotate_then_review
from conftest import Api, build_world

pytestmark = pytest.mark.timeout(180)

PROGRESS = "subscription($c: ID!) { campaignProgress(campaignId: $c) { totalTasks inProgress done byStep { step { name } count } } }"
OTHER = "subscription($c: ID!) { campaignProgress(campaignId: $c) { totalTasks } }"


async def subscribe(url: str, token: str, protocol: str, query: str, variables: dict):
    socket = await websockets.connect(url, subprotocols=[protocol])
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    await socket.send(json.dumps({"id": "p", "type": start, "payload": {"query": query, "variables": variables}}))
    return socket


async def next_payload(socket) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if message["type"] in ("next", "data"):
            assert message["id"] == "p"
            return message["payload"]
        assert message["type"] == "ka", message  # the legacy protocol's keep-alive


def fanout(base: str) -> dict:
    return httpx.get(f"{base}/health", timeout=10).json()["fanout"]


async def test_a_progress_push_is_executed_once_per_group_and_sent_to_every_subscriber(live_server):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        api = Api(client)
        world = await build_world(api)
        campaign, tasks = await launched_annotate_then_review(api, world)
        url, c = live_server.replace("http", "ws") + "/graphql", {"c": campaign}
        protocols = ["graphql-transport-ws", "graphql-ws"] * 3
        same = [await subscribe(url, world.manager, protocol, PROGRESS, c) for protocol in protocols]
        other = [await subscribe(url, world.manager, protocol, OTHER, c) for protocol in protocols[:2]]
        for socket in same + other:  # the current value at once: each is registered
            assert (await next_payload(socket))["data"]["campaignProgress"]["totalTasks"] == 2

        assert (await act(api, START, {"taskId": tasks["labeler1"]}, world.labeler))["errors"] == []  # counts stay
        before = fanout(live_server)
        assert (await act(api, SUBMIT, {"taskId": tasks["labeler1"]}, world.labeler))["errors"] == []
        answers = [await next_payload(socket) for socket in same]
        assert all(answer == answers[0] for answer in answers)  # one payload, whatever the protocol
        assert answers[0]["data"]["campaignProgress"]["byStep"] == [
            {"step": {"name": "Annotate"}, "count": 1}, {"step": {"name": "Review"}, "count": 1}]
        assert [(await next_payload(socket))["data"] for socket in other] == [{"campaignProgress": {"totalTasks": 2}}] * 2
        after = fanout(live_server)
        # One execution per group (two documents), a delivery to each of the eight.
        assert (after["executions"] - before["executions"], after["deliveries"] - before["deliveries"]) == (2, 8)
        for socket in same + other:
            await socket.close()
