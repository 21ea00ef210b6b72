"""Shared executions over a real uvicorn, both protocols: subscribers of a campaign with the same
document, variables and roles get one execution per event (counted by /health's `fanout`) and the
same payload; each is still authorized on its own, a LABELER still sees only their rows, a member
that leaves or loses access never disturbs the others."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from campaign_helpers import REASSIGN, SAVE, act, launched_annotate_then_review
from conftest import Api, build_world

pytestmark = pytest.mark.timeout(180)

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
    async def open(cls, url: str, token: str, protocol: str, query: str, variables: dict) -> Subscriber:
        socket = await websockets.connect(url, subprotocols=[protocol])
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
        while not got or got[-1]["data"]["taskUpdates"]["cursor"] != cursor:
            payload = await self.next()
            assert payload is not None and "errors" not in payload, payload
            got.append(payload)
        return got

    async def complete(self) -> None:
        stop = "complete" if self.protocol == "graphql-transport-ws" else "stop"
        await self.socket.send(json.dumps({"id": "s", "type": stop}))


def both(n: int) -> list[str]:
    return ["graphql-transport-ws" if i % 2 == 0 else "graphql-ws" for i in range(n)]


@pytest.fixture
async def live(live_server):
    """A launched campaign whose Annotate step has a task for labeler1 and one for contributor1."""
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        api = Api(client)
        world = await build_world(api)
        campaign, tasks = await launched_annotate_then_review(api, world)
        yield api, world, campaign, tasks, live_server, live_server.replace("http", "ws") + "/graphql"


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


async def test_identical_subscribers_share_one_execution_per_event_and_get_the_same_answer(live):
    api, world, campaign, tasks, base, url = live
    c = {"c": campaign}
    groups = {  # name: (token, document, variables, how many subscribers)
        "managers": (world.manager, UPDATES, c, 6),
        "managers without assets": (world.manager, UPDATES, {**c, "withAsset": False}, 2),
        "managers, other selection": (world.manager, OTHER_SELECTION, c, 2),
        "admin": (world.admin, UPDATES, c, 2),  # MANAGER in the dataset, but other roles: its own group
        "contributor": (world.contributor, UPDATES, c, 2),
    }
    subscribers = {name: [await Subscriber.open(url, token, protocol, query, variables) for protocol in both(n)]
                   for name, (token, query, variables, n) in groups.items()}
    labeler = [await Subscriber.open(url, world.labeler, protocol, UPDATES, c) for protocol in both(2)]
    everyone = [s for members in subscribers.values() for s in members]
    await registered(everyone + labeler, lambda: save(api, world, tasks, "labeler1", campaign))

    before = fanout(base)
    own = await save(api, world, tasks, "labeler1", campaign)
    other = await save(api, world, tasks, "contributor1", campaign)
    answers = {name: [await s.until(other) for s in members] for name, members in subscribers.items()}
    after = fanout(base)
    # Two events, each executed once per group and sent to every member of it; the LABELER's
    # updates are executed for them alone.
    assert after["executions"] - before["executions"] == 2 * len(groups)
    assert after["deliveries"] - before["deliveries"] == 2 * len(everyone)

    for name, got in answers.items():
        assert all(g == got[0] for g in got), name  # the same payload, whatever the protocol
        assert [p["data"]["taskUpdates"]["cursor"] for p in got[0]] == [own, other]
    managers = answers["managers"][0]
    assert [u["data"]["taskUpdates"]["task"]["assignee"]["username"] for u in managers] == ["labeler1", "contributor1"]
    assert managers[0]["data"]["taskUpdates"]["task"]["asset"]["filename"] in ("a.jpg", "b.jpg")
    assert "asset" not in answers["managers without assets"][0][0]["data"]["taskUpdates"]["task"]
    assert set(answers["managers, other selection"][0][0]["data"]["taskUpdates"]["task"]) == {"id", "version"}
    assert answers["admin"][0] == managers and answers["contributor"][0] == managers

    # The LABELER heard their own task's change, not the contributor's: their next is their next.
    last = await save(api, world, tasks, "labeler1", campaign)
    for subscriber in labeler:
        heard = [p["data"]["taskUpdates"]["cursor"] for p in await subscriber.until(last)]
        assert heard == [own, last]


async def test_members_that_leave_do_not_end_the_group(live):
    api, world, campaign, tasks, base, url = live
    members = [await Subscriber.open(url, world.manager, protocol, UPDATES, {"c": campaign}) for protocol in both(6)]
    await registered(members, lambda: save(api, world, tasks, "contributor1", campaign))
    # One completes its subscription, one closes its socket, on each protocol.
    for gone in members[:2]:
        await gone.complete()
    for gone in members[2:4]:
        await gone.socket.close()
    stayed = members[4:]
    for round_ in range(2):
        before = fanout(base)
        cursor = await save(api, world, tasks, "labeler1", campaign)
        got = [await s.until(cursor) for s in stayed]
        assert got[0] == got[1] and len(got[0]) == 1, round_
        after = fanout(base)
        assert (after["executions"] - before["executions"], after["deliveries"] - before["deliveries"]) == (1, 2)


async def test_a_member_that_loses_access_is_ended_while_its_group_goes_on(live):
    api, world, campaign, tasks, base, url = live
    contributors = [await Subscriber.open(url, world.contributor, p, UPDATES, {"c": campaign}) for p in both(2)]
    managers = [await Subscriber.open(url, world.manager, p, UPDATES, {"c": campaign}) for p in both(2)]
    await registered(contributors + managers, lambda: save(api, world, tasks, "labeler1", campaign))
    # The contributor hands their task over, then is taken off the dataset.
    moved = await act(api, REASSIGN, {"taskId": tasks["contributor1"], "assigneeId": world.ids["labeler"]}, world.manager)
    assert moved["errors"] == []
    moved_cursor = (await api.data(CURSOR, {"c": campaign}, world.manager))["campaign"]["eventCursor"]
    removed = await api.data(REMOVE, {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["contributor"]}},
                             world.manager)
    assert removed["removeDatasetWorker"]["errors"] == []
    cursor = await save(api, world, tasks, "labeler1", campaign)
    for subscriber in contributors:
        # At most the reassign (if it was handled before the removal committed), then the end.
        heard = []
        while (payload := await subscriber.next()) is not None:
            heard.append(payload["data"]["taskUpdates"]["cursor"])
        assert heard in ([], [moved_cursor])
    for subscriber in managers:
        got = await subscriber.until(cursor)
        assert [p["data"]["taskUpdates"]["cursor"] for p in got] == [moved_cursor, cursor]
    cursor = await save(api, world, tasks, "labeler1", campaign)
    for subscriber in managers:
        assert len(await subscriber.until(cursor)) == 1
