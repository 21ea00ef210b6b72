"""Caps on live subscriptions (STEPWISE_MAX_SUBSCRIPTIONS_PER_USER / _PER_PROCESS) against a real
uvicorn, over both protocols: the extra subscribe is refused with TOO_MANY_SUBSCRIPTIONS, the
live ones go on, and a slot comes back when a subscription ends. Each subscription here is
campaignProgress, which answers at once: its first message says it holds its slot."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from campaign_helpers import add_assets, campaign_with_steps
from conftest import SQLITE_SETTINGS, Api, build_world, running_server

pytestmark = pytest.mark.timeout(120)

PROGRESS = "subscription($c: ID!) { campaignProgress(campaignId: $c) { totalTasks } }"
START = {"graphql-transport-ws": "subscribe", "graphql-ws": "start"}
STOP = {"graphql-transport-ws": "complete", "graphql-ws": "stop"}


@pytest.fixture
async def capped(migrated_sqlite_url, tmp_path):
    """A server where a user may hold 2 live subscriptions and the process 3 (on SQLite only:
    the caps are counted in the process, whatever the database)."""
    env = {"STEPWISE_DATABASE_URL": migrated_sqlite_url, "STEPWISE_DATA_DIR": str(tmp_path), **SQLITE_SETTINGS,
           "STEPWISE_MAX_SUBSCRIPTIONS_PER_USER": "2", "STEPWISE_MAX_SUBSCRIPTIONS_PER_PROCESS": "3"}
    with running_server(env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            api = Api(client)
            world = await build_world(api)
            await add_assets(api, world, ["a.jpg"])
            campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["manager1"])])
            yield world, campaign, base.replace("http", "ws") + "/graphql"


async def socket_for(url: str, protocol: str, token: str):
    socket = await websockets.connect(url, subprotocols=[protocol])
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
    return socket


async def subscribe(socket, protocol: str, operation_id: str, campaign: str) -> str | None:
    """None once the subscription answers with data, else the refusal's code."""
    await socket.send(json.dumps({"id": operation_id, "type": START[protocol],
                                  "payload": {"query": PROGRESS, "variables": {"c": campaign}}}))
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if message.get("id") != operation_id:
            continue  # keep-alives, or an earlier operation's messages
        if message["type"] == "error":
            payload = message["payload"]
            return (payload[0] if isinstance(payload, list) else payload)["extensions"]["code"]
        if message["payload"].get("errors"):
            return message["payload"]["errors"][0]["extensions"]["code"]
        return None


async def until_subscribed(socket, protocol: str, prefix: str, campaign: str) -> str:
    """Subscribes (new ids) until the server has the slot back; returns the live id."""
    for attempt in range(100):
        operation_id = f"{prefix}{attempt}"
        if await subscribe(socket, protocol, operation_id, campaign) is None:
            return operation_id
        await asyncio.sleep(0.05)  # the stop is handled in the background: ask again
    raise AssertionError("the slot never came back")


async def test_a_user_past_the_cap_is_refused_and_the_others_go_on_over_both_protocols(capped):
    world, campaign, url = capped
    for protocol in ("graphql-transport-ws", "graphql-ws"):  # one after the other, on one server
        await refused_past_the_caps(world, campaign, url, protocol)


async def refused_past_the_caps(world, campaign: str, url: str, protocol: str) -> None:
    socket = await socket_for(url, protocol, world.manager)
    other = await socket_for(url, protocol, world.manager)  # the cap counts every connection of the user
    # (until_subscribed: the slots of an earlier test's sockets may still be on their way back.)
    await until_subscribed(socket, protocol, "1-", campaign)
    live_on_other = await until_subscribed(other, protocol, "2-", campaign)
    assert await subscribe(socket, protocol, "3", campaign) == "TOO_MANY_SUBSCRIPTIONS"
    # Another user still has room on this process (3): one more, then the process is full.
    admin = await socket_for(url, protocol, world.admin)
    await until_subscribed(admin, protocol, "a1-", campaign)
    assert await subscribe(admin, protocol, "a2", campaign) == "TOO_MANY_SUBSCRIPTIONS"
    # The refused ones changed nothing: a stopped subscription gives its slot back.
    await other.send(json.dumps({"id": live_on_other, "type": STOP[protocol]}))
    await until_subscribed(socket, protocol, "again", campaign)
    for open_socket in (socket, other, admin):
        await open_socket.close()
    # Closing the sockets ends their subscriptions: the user has both slots again.
    fresh = await socket_for(url, protocol, world.manager)
    await until_subscribed(fresh, protocol, "x", campaign)
    await until_subscribed(fresh, protocol, "y", campaign)
    await fresh.close()
