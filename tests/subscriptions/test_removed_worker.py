"""removeDatasetWorker over a real uvicorn and websocket: the removed worker's subscriptions
(taskUpdates, myTaskUpdates, campaignProgress) end at the next event, with nothing delivered, and a
new subscription on the same socket is refused."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets

from campaign_helpers import REASSIGN, SAVE, act, launched_annotate_then_review
from conftest import Api, build_world

SUBSCRIPTIONS = {
    "t": "subscription($c: ID!) { taskUpdates(campaignId: $c) { kind } }",
    "m": "subscription($o: ID!) { myTaskUpdates(organizationId: $o) { kind } }",
    "p": "subscription($c: ID!) { campaignProgress(campaignId: $c) { totalTasks } }",
}
REMOVE = "mutation($i: RemoveDatasetWorkerInput!) { removeDatasetWorker(input: $i) { errors { code } } }"


async def receive(socket, timeout: float = 5) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def until_each_hears(socket, ids: set[str], poke) -> list[dict]:
    """Poke (commit an event) until every subscription in `ids` has delivered something: proof
    that the server registered them, without sleeping for it. The messages received."""
    heard, messages = set(), []
    while heard != ids:
        await poke()
        try:
            while heard != ids:
                message = await receive(socket, timeout=0.5)
                messages.append(message)
                heard.add(message["id"])
        except TimeoutError:
            continue
    return messages


async def test_a_removed_workers_subscriptions_end_at_the_next_event(live_server):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        api = Api(client)
        world = await build_world(api)
        campaign, tasks = await launched_annotate_then_review(api, world)
        url = live_server.replace("http", "ws") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {world.contributor}"}}))
            assert (await receive(socket))["type"] == "connection_ack"
            variables = {"c": campaign, "o": world.ids["org"]}
            for sid, query in SUBSCRIPTIONS.items():
                await socket.send(json.dumps({"id": sid, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            assert (await receive(socket))["id"] == "p"  # progress answers at once

            async def save_own_task():
                saved = await act(api, SAVE, {"taskId": tasks["contributor1"], "shapes": []}, world.contributor)
                assert saved["errors"] == []

            await until_each_hears(socket, {"t", "m"}, save_own_task)
            # The contributor hands their task over, then is removed.
            moved = await act(api, REASSIGN, {"taskId": tasks["contributor1"], "assigneeId": world.ids["labeler"]}, world.manager)
            assert moved["errors"] == []
            removed = await api.data(REMOVE, {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["contributor"]}},
                                     world.manager)
            assert removed["removeDatasetWorker"]["errors"] == []
            # Drain what the reassign sent (before the removal), then the next event ends all three.
            saved = await act(api, SAVE, {"taskId": tasks["labeler1"], "shapes": []}, world.labeler)
            assert saved["errors"] == []
            ended = set()
            while ended != set(SUBSCRIPTIONS):
                message = await receive(socket)
                if message["type"] == "complete":
                    ended.add(message["id"])
                else:
                    assert message["type"] == "next" and message["payload"]["data"] in (
                        {"taskUpdates": {"kind": "REASSIGNED"}}, {"myTaskUpdates": {"kind": "REASSIGNED"}}), message
            # A new subscription on the same socket is checked against the roles as they are now:
            # the removed worker no longer sees the campaign (the roles the socket read when it
            # connected would still say they do).
            await socket.send(json.dumps({"id": "again", "type": "subscribe",
                                          "payload": {"query": SUBSCRIPTIONS["p"], "variables": variables}}))
            message = await receive(socket)
            assert message["id"] == "again" and message["payload"]["data"] is None, message
            assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["NOT_FOUND"], message
