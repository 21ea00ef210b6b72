"""Websocket subscribers of taskUpdates (or issueUpdates) for the tests of shared executions and of the send loop
(tests/subscriptions): one subscription per socket, either protocol, against a live server."""

from __future__ import annotations

import asyncio
import json
import socket as socket_module

import httpx
import pytest
import websockets

from campaign_helpers import SAVE, act, launched_annotate_then_review
from conftest import Api, build_world

UPDATES = ("subscription($c: ID!, $withAsset: Boolean! = true) { taskUpdates(campaignId: $c) { kind cursor "
           "actor { username } task { id status assignee { username } asset @include(if: $withAsset) { filename } } } }")
OTHER_SELECTION = "subscription($c: ID!) { taskUpdates(campaignId: $c) { kind cursor task { id version } } }"
CURSOR = "query($c: ID!) { campaign(id: $c) { eventCursor } }"
REMOVE = "mutation($i: RemoveDatasetWorkerInput!) { removeDatasetWorker(input: $i) { errors { code } } }"


class Subscriber:
    """One subscription on its own socket, either protocol."""

    def __init__(self, socket, protocol: str) -> None:
        self.socket, self.protocol = socket, protocol

    @classmethod
    async def open(cls, url: str, token: str, protocol: str, query: str, variables: dict,
                   receive_buffer: int | None = None) -> Subscriber:
        """`receive_buffer`: the socket's SO_RCVBUF, set before it connects, and the client
        keeps at most one message read ahead: left unread, it soon fills the server's side too."""
        sock = None
        if receive_buffer is not None:
            sock = socket_module.socket()
            sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, receive_buffer)
            host, port = url.split("//")[1].split("/")[0].split(":")
            sock.connect((host, int(port)))
        socket = await websockets.connect(url, subprotocols=[protocol], sock=sock, max_size=None,
                                          max_queue=16 if sock is None else 1,  # then it holds one message
                                          ping_interval=20 if sock is None else None)  # its pongs would wait too
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        await socket.send(json.dumps({"id": "s", "type": start, "payload": {"query": query, "variables": variables}}))
        return cls(socket, protocol)

    async def next(self, timeout: float = 10) -> dict | None:
        """The next update's payload, or None when the server completed the subscription."""
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
            if message["type"] in ("next", "data"):
                assert message["id"] == "s"
                return message["payload"]
            if message["type"] == "complete":
                return None
            assert message["type"] == "ka", message  # the legacy protocol's keep-alive

    async def until(self, cursor: str) -> list[dict]:
        """Updates up to and including the one with this cursor."""
        got = []
        while not got or next(iter(got[-1]["data"].values()))["cursor"] != cursor:
            payload = await self.next()
            assert payload is not None and "errors" not in payload, payload
            got.append(payload)
        return got

    async def complete(self) -> None:
        stop = "complete" if self.protocol == "graphql-transport-ws" else "stop"
        await self.socket.send(json.dumps({"id": "s", "type": stop}))


def both(n: int) -> list[str]:
    return ["graphql-transport-ws" if i % 2 == 0 else "graphql-ws" for i in range(n)]


async def save(api, world, tasks, who: str, campaign: str) -> str:
    """`who` saves their task; the campaign's cursor after it (that update's cursor)."""
    token = {"labeler1": world.labeler, "contributor1": world.contributor}[who]
    saved = await act(api, SAVE, {"taskId": tasks[who], "shapes": []}, token)
    assert saved["errors"] == []
    return (await api.data(CURSOR, {"c": campaign}, world.manager))["campaign"]["eventCursor"]


async def registered(subscribers: list[Subscriber], poke) -> None:
    """Poke until every subscriber has heard the same last event: all are registered and nothing
    is still on its way (each one's updates come in order)."""
    for subscriber in subscribers:
        while True:
            cursor = await poke()
            try:
                await asyncio.wait_for(subscriber.until(cursor), 1)
                break
            except TimeoutError:
                continue
    cursor = await poke()
    for subscriber in subscribers:
        await subscriber.until(cursor)


def fanout(base: str) -> dict:
    return httpx.get(f"{base}/health", timeout=10).json()["fanout"]


@pytest.fixture
async def live(live_server):
    """A launched campaign whose Annotate step has a task for labeler1 and one for contributor1."""
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        api = Api(client)
        world = await build_world(api)
        campaign, tasks = await launched_annotate_then_review(api, world)
        yield api, world, campaign, tasks, live_server, live_server.replace("http", "ws") + "/graphql"
