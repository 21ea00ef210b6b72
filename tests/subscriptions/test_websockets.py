"""Subscriptions over real websockets, both protocols, against a real uvicorn."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from campaign_helpers import BOX, ISSUE, LAUNCH, REASSIGN, SAVE, START, SUBMIT, act, add_assets, all_tasks, campaign_with_steps
from conftest import Api, build_world

TASK_UPDATES = "subscription($c: ID!) { taskUpdates(campaignId: $c) { kind actor { username } task { status assignee { username } asset { filename } } } }"
PROGRESS = "subscription($c: ID!) { campaignProgress(campaignId: $c) { totalTasks inProgress done percent } }"


@pytest.fixture
async def live(live_server):
    """A world with a launched two-step campaign on a real server: (api, world, campaign, tasks)."""
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        api = Api(client)
        world = await build_world(api)
        await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
        campaign, _ = await campaign_with_steps(
            api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])])
        await api.data(LAUNCH, {"c": campaign}, world.manager)
        yield api, world, campaign, await all_tasks(api, world, campaign), live_server.replace("http", "ws") + "/graphql"


async def open_transport_ws(url: str, token: str | None):
    socket = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"} if token else {}}))
    return socket


async def next_data(socket, timeout: float = 5) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if message["type"] in ("next", "data"):
            return message["payload"]
        if message["type"] in ("error", "complete"):
            return message


async def test_transport_ws_rejects_a_bad_token_with_4401(live):
    _, _, _, _, url = live
    for token, reason in ((None, "Sign in first"), ("swt_not-a-token", "Invalid or expired token")):
        socket = await open_transport_ws(url, token)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
        assert closed.value.rcvd.code == 4401
        assert closed.value.rcvd.reason.startswith(reason)


async def test_legacy_protocol_answers_a_bad_token_with_an_error_message(live):
    _, _, _, _, url = live
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer nope"}}))
        message = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert message["type"] == "connection_error"
        assert message["payload"]["message"].startswith("Invalid or expired token")


async def test_task_updates_arrive_after_commit_for_both_protocols(live):
    api, world, campaign, tasks, url = live
    socket = await open_transport_ws(url, world.manager)
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": TASK_UPDATES, "variables": {"c": campaign}}}))
    legacy = await websockets.connect(url, subprotocols=["graphql-ws"])
    await legacy.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {world.contributor}"}}))
    assert json.loads(await asyncio.wait_for(legacy.recv(), 5))["type"] == "connection_ack"
    await legacy.send(json.dumps({"id": "1", "type": "start", "payload": {"query": TASK_UPDATES, "variables": {"c": campaign}}}))
    await asyncio.sleep(0.3)  # both subscriptions registered

    submitted = await act(api, SUBMIT, {"taskId": tasks[0]["id"]}, world.labeler)
    assert submitted["errors"] == []
    for ws in (socket, legacy):
        update = (await next_data(ws))["data"]["taskUpdates"]
        assert update == {"kind": "SUBMITTED", "actor": {"username": "labeler1"},
                          "task": {"status": "IN_PROGRESS", "assignee": {"username": "manager1"}, "asset": {"filename": "a.jpg"}}}
    # A refused change publishes nothing.
    refused = await act(api, SUBMIT, {"taskId": tasks[0]["id"]}, world.contributor)
    assert refused["errors"][0]["code"] == "NOT_ASSIGNEE"
    with pytest.raises(asyncio.TimeoutError):
        await next_data(socket, timeout=0.5)
    await socket.close()
    await legacy.close()


async def test_labelers_hear_only_of_tasks_that_were_or_became_theirs(live):
    api, world, campaign, tasks, url = live
    socket = await open_transport_ws(url, world.labeler)
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": TASK_UPDATES, "variables": {"c": campaign}}}))
    await asyncio.sleep(0.3)
    # tasks[1] is the contributor's: the labeler hears nothing of it; tasks[0] is theirs.
    assert (await act(api, START, {"taskId": tasks[1]["id"]}, world.contributor))["errors"] == []
    assert (await act(api, START, {"taskId": tasks[0]["id"]}, world.labeler))["errors"] == []
    update = (await next_data(socket))["data"]["taskUpdates"]
    assert update["kind"] == "STARTED" and update["task"]["asset"] == {"filename": "a.jpg"}
    await socket.close()


async def test_campaign_progress_now_then_after_each_change_of_a_count(live):
    api, world, campaign, tasks, url = live
    socket = await open_transport_ws(url, world.manager)
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "p", "type": "subscribe", "payload": {"query": PROGRESS, "variables": {"c": campaign}}}))
    first = (await next_data(socket))["data"]["campaignProgress"]
    assert first == {"totalTasks": 4, "inProgress": 4, "done": 0, "percent": 0.0}
    # A start moves no count: nothing is pushed for it, so the next push is the submit's.
    assert (await act(api, START, {"taskId": tasks[0]["id"]}, world.labeler))["errors"] == []
    await act(api, SUBMIT, {"taskId": tasks[0]["id"]}, world.labeler)
    after = (await next_data(socket))["data"]["campaignProgress"]
    assert after["percent"] == pytest.approx(100 * 1 / (1 + 7))
    labeler = await open_transport_ws(url, world.labeler)
    assert json.loads(await asyncio.wait_for(labeler.recv(), 5))["type"] == "connection_ack"
    await labeler.send(json.dumps({"id": "p", "type": "subscribe", "payload": {"query": PROGRESS, "variables": {"c": campaign}}}))
    refused = await next_data(labeler)
    errors = refused["payload"] if refused.get("type") == "error" else refused["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    await socket.close()
    await labeler.close()


SEALED_FIELDS = """kind task { id status assignee { username } annotation { updatedAt } openIssueCount issues { id }
  history { state } events { kind } asset { filename annotation { updatedAt } task { id } issues { id } } }"""
SEALED_UPDATES = f"subscription($c: ID!) {{ taskUpdates(campaignId: $c) {{ {SEALED_FIELDS} }} }}"
MY_SEALED_UPDATES = f"subscription($o: ID!) {{ myTaskUpdates(organizationId: $o) {{ {SEALED_FIELDS} }} }}"


async def test_an_update_about_a_task_that_left_a_labeler_shows_no_more_than_task_id_would(live):
    api, world, campaign, tasks, url = live
    task = tasks[0]["id"]  # the labeler's
    asset = (await api.data("query($t: ID!) { task(id: $t) { asset { id } } }", {"t": task}, world.manager))["task"]["asset"]["id"]
    created = await api.data("mutation($i: CreateIssueInput!) { createIssue(input: $i) { errors { code } } }",
                             {"i": {"assetId": asset, **ISSUE}}, world.labeler)
    assert created["createIssue"]["errors"] == []
    socket = await open_transport_ws(url, world.labeler)
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
    for name, query, variables in (("campaign", SEALED_UPDATES, {"c": campaign}),
                                   ("mine", MY_SEALED_UPDATES, {"o": world.ids["org"]})):
        await socket.send(json.dumps({"id": name, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
    await asyncio.sleep(0.3)

    # While the task is theirs, both subscriptions show all of it.
    assert (await act(api, SAVE, {"taskId": task, "shapes": [BOX]}, world.labeler))["errors"] == []
    for update in await updates_of(socket, 2):
        assert update["kind"] == "SAVED" and update["task"]["annotation"] is not None
        assert update["task"]["events"] and update["task"]["history"] and len(update["task"]["issues"]) == 1
        assert update["task"]["openIssueCount"] == 1 and update["task"]["asset"]["task"] == {"id": task}

    # Reassigned away: they hear of it, and see where it went, but none of its content.
    reassigned = await act(api, REASSIGN, {"taskId": task, "assigneeId": world.ids["contributor"]}, world.manager)
    assert reassigned["errors"] == []
    for update in await updates_of(socket, 2):
        assert update == {"kind": "REASSIGNED", "task": {
            "id": task, "status": "IN_PROGRESS", "assignee": {"username": "contributor1"}, "annotation": None,
            "openIssueCount": 0, "issues": [], "history": [], "events": [],
            "asset": {"filename": "a.jpg", "annotation": None, "task": None, "issues": []}}}
    refused = await api.post("query($t: ID!) { task(id: $t) { id } }", {"t": task}, world.labeler)
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # Someone else's change to it afterwards is no concern of theirs: nothing more arrives.
    assert (await act(api, START, {"taskId": task}, world.contributor))["errors"] == []
    with pytest.raises(asyncio.TimeoutError):
        await next_data(socket, timeout=0.5)
    await socket.close()


async def updates_of(socket, count: int) -> list[dict]:
    """The next `count` updates, whichever subscription each came from."""
    updates = []
    for _ in range(count):
        payload = await next_data(socket)
        assert "errors" not in payload, payload
        updates.append(next(iter(payload["data"].values())))
    return updates
