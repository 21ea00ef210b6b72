"""Issue 10's judged scenario: a dashboard and three workers connected over real websockets while
the seed story (client-examples/campaign_story.py, played unchanged through HTTP) runs its course,
one worker disconnected for a while and resuming with `after:`, and (PostgreSQL + Redis, two
uvicorn processes) the broker restarted in the middle. Then every update each of them received
is compared with the campaign's event log: every change, to exactly the right people, in order,
none twice.

Who hears what (RULES.md, docs/permissions.md): the dashboard (MANAGER) every task event on
taskUpdates and every issue event on issueUpdates; the CONTRIBUTOR every task event on
taskUpdates; the LABELER the task events of tasks that were or became theirs; on myTaskUpdates
each worker the events of tasks that were or became theirs. campaignProgress ends on the final
figures. Subscriptions start from the `eventCursor` read just before: no wait for registration.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sqlite3
from pathlib import Path

import httpx
import pytest
import websockets

from conftest import SQLITE_SETTINGS, running_server
from tests.subscriptions.test_broker_faults import postgres_url, private_redis  # noqa: F401 - fixtures
from stepwise.schema.event_cursors import decode_campaign_cursor
from stepwise.schema.ids import decode_id

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
WITHIN = 20.0  # generous bound for "arrives", not a timing
TASK_UPDATES = ("subscription($c: ID!, $a: String) { taskUpdates(campaignId: $c, after: $a) "
                "{ kind cursor task { id status assignee { username } } actor { username } } }")
ISSUE_UPDATES = ("subscription($c: ID!, $a: String) { issueUpdates(campaignId: $c, after: $a) "
                 "{ kind cursor issue { id status } actor { username } } }")
MY_TASK_UPDATES = ("subscription($o: ID!, $a: String) { myTaskUpdates(organizationId: $o, after: $a) "
                   "{ kind cursor task { id } } }")
PROGRESS = ("subscription($c: ID!) { campaignProgress(campaignId: $c) "
            "{ totalTasks inProgress toRework done skipped } }")
CAMPAIGN_CURSOR = "query($c: ID!) { campaign(id: $c) { eventCursor } }"
ORGANIZATION_CURSOR = "query($o: ID!) { organization(id: $o) { eventCursor } }"
FINAL_PROGRESS = "query($c: ID!) { campaign(id: $c) { progress { totalTasks inProgress toRework done skipped } } }"


def load_story():
    spec = importlib.util.spec_from_file_location("campaign_story", ROOT / "client-examples" / "campaign_story.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Socket:
    """One client's websocket (graphql-transport-ws), several subscriptions on it; a reader task
    files each `next` under its subscription and remembers the last cursor of each."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.received: dict[str, list[dict]] = {}
        self.cursors: dict[str, str] = {}
        self.changed = asyncio.Event()
        self.socket = None
        self.reader: asyncio.Task | None = None

    async def connect(self) -> None:
        self.socket = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"], max_size=None)
        await self.socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}))
        assert json.loads(await asyncio.wait_for(self.socket.recv(), WITHIN))["type"] == "connection_ack"
        self.reader = asyncio.create_task(self._read())

    async def subscribe(self, name: str, query: str, variables: dict) -> None:
        self.received.setdefault(name, [])
        payload = {"query": query, "variables": variables}
        await self.socket.send(json.dumps({"id": name, "type": "subscribe", "payload": payload}))

    async def _read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            assert message["type"] == "next" and "errors" not in message["payload"], message
            update = next(iter(message["payload"]["data"].values()))
            self.received[message["id"]].append(update)
            if "cursor" in update:
                self.cursors[message["id"]] = update["cursor"]
            self.changed.set()

    async def wait_for(self, name: str, count: int) -> list[dict]:
        async with asyncio.timeout(WITHIN):
            while len(self.received[name]) < count:
                self.changed.clear()
                if self.reader.done():
                    self.reader.result()  # its error, if any
                await self.changed.wait()
        return self.received[name]

    async def close(self) -> None:
        await self.socket.close()
        await asyncio.gather(self.reader, return_exceptions=True)


class Scenario:
    """Hooks the story calls (from its thread) before some of its mutations."""

    def __init__(self, loop, urls: list[str], broker=None) -> None:
        self.loop, self.urls, self.broker = loop, urls, broker
        self.clients: dict[str, object] = {}  # role -> the story's client (its token)
        self.ids: dict[str, str] = {}
        self.sockets: dict[str, Socket] = {}
        self.seen: set[str] = set()
        self.starts: dict[str, tuple[str, str]] = {}  # role -> the cursors it subscribed from
        self.kept: tuple[dict, dict] = ({}, {})

    def ws(self, index: int) -> str:
        return self.urls[index % len(self.urls)].replace("http", "ws") + "/graphql"

    def before(self, client, name: str, variables: dict) -> None:
        if name in self.seen:
            return
        self.seen.add(name)
        hook = {"launchCampaign": self.connect_everyone, "sendTaskToRework": self.break_things,
                "skipTask": self.broker_back, "replyToIssue": self.labeler_back}.get(name)
        if name == "launchCampaign":
            self.ids["campaign"] = variables["input"]["campaignId"]
        if hook is not None:
            asyncio.run_coroutine_threadsafe(hook(), self.loop).result(timeout=120)

    async def token_query(self, role: str, query: str, variables: dict) -> dict:
        async with httpx.AsyncClient(timeout=WITHIN) as http:
            response = await http.post(self.urls[0] + "/graphql", json={"query": query, "variables": variables},
                                       headers={"authorization": f"Bearer {self.clients[role].token}"})
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def cursors(self, role: str) -> tuple[str, str]:
        campaign = await self.token_query(role, CAMPAIGN_CURSOR, {"c": self.ids["campaign"]})
        organization = await self.token_query(role, ORGANIZATION_CURSOR, {"o": self.ids["organization"]})
        return campaign["campaign"]["eventCursor"], organization["organization"]["eventCursor"]

    async def connect_everyone(self) -> None:
        """Before the launch: the dashboard on the last process, the workers spread over both."""
        c = self.ids["campaign"]
        campaign_at, _ = await self.cursors("manager")
        dashboard = self.sockets["dashboard"] = Socket(self.ws(1), self.clients["manager"].token)
        await dashboard.connect()
        await dashboard.subscribe("progress", PROGRESS, {"c": c})
        await dashboard.wait_for("progress", 1)  # the current value at once: it is registered
        await dashboard.subscribe("tasks", TASK_UPDATES, {"c": c, "a": campaign_at})
        await dashboard.subscribe("issues", ISSUE_UPDATES, {"c": c, "a": campaign_at})
        for index, role in enumerate(("labeler", "contributor", "manager")):
            self.starts[role] = await self.cursors(role)
            await self.connect_worker(role, index, *self.starts[role])

    async def connect_worker(self, role: str, index: int, campaign_at: str, organization_at: str) -> None:
        socket = self.sockets[role] = Socket(self.ws(index), self.clients[role].token)
        await socket.connect()
        await socket.subscribe("mine", MY_TASK_UPDATES, {"o": self.ids["organization"], "a": organization_at})
        if role != "manager":  # the reviewer's dashboard is the one above
            await socket.subscribe("tasks", TASK_UPDATES, {"c": self.ids["campaign"], "a": campaign_at})

    async def break_things(self) -> None:
        """The labeler goes away (keeping their last cursors); the broker is killed."""
        labeler = self.sockets["labeler"]
        await labeler.close()
        self.kept = (dict(labeler.received), dict(labeler.cursors))
        if self.broker is not None:
            self.broker.kill()

    async def broker_back(self) -> None:
        if self.broker is not None:
            await self.broker.start()
            async with httpx.AsyncClient(timeout=WITHIN) as http, asyncio.timeout(3 * WITHIN):
                for url in self.urls:  # each process says it is back on the broker
                    while (await http.get(url + "/health")).json().get("broker") != "ok":
                        await asyncio.sleep(0.05)

    async def labeler_back(self) -> None:
        """The labeler resumes each stream from the last cursor it received (or the one it had)."""
        received, cursors = self.kept
        campaign_at, organization_at = self.starts["labeler"]
        await self.connect_worker("labeler", 0, cursors.get("tasks", campaign_at), cursors.get("mine", organization_at))
        for name, updates in received.items():  # what came before the disconnect, then the rest
            self.sockets["labeler"].received[name] = list(updates)


def play_story(scenario: Scenario, url: str) -> dict:
    story = load_story()

    class Client(story.GraphQLClient):
        def mutate(self, query, variables, name):
            scenario.before(self, name, variables)
            payload = super().mutate(query, variables, name)
            if name == "signUp":
                scenario.clients[self.who.split("-")[0]] = self
            if name == "createOrganization":
                scenario.ids["organization"] = payload["organization"]["id"]
            return payload

    story.GraphQLClient = Client
    return story.run(story.parse_args(["--url", url + "/graphql", "--suffix", "judged"]))


def read_log(database_url: str, campaign_pk: int) -> list[tuple]:
    query = ("SELECT seq, kind, task_id, issue_id, assignee_id, previous_assignee_id FROM campaign_event"
             " WHERE campaign_id = {} ORDER BY seq")
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as db:
            return db.execute(query.format("?"), [campaign_pk]).fetchall()
    import asyncpg

    async def fetch():
        connection = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
        try:
            return [tuple(row) for row in await connection.fetch(query.format("$1"), campaign_pk)]
        finally:
            await connection.close()

    return asyncio.run(fetch())


async def play_and_check(urls: list[str], database_url: str, broker=None) -> None:
    scenario = Scenario(asyncio.get_running_loop(), urls, broker)
    try:
        summary = await asyncio.to_thread(play_story, scenario, urls[0])
        campaign_pk = decode_id(summary["campaignId"], "Campaign")
        log = await asyncio.to_thread(read_log, database_url, campaign_pk)
        await check_deliveries(scenario, summary, campaign_pk, log)
    finally:
        for socket in scenario.sockets.values():
            if socket.socket is not None:
                await socket.close()


async def user_pk(scenario: Scenario, role: str) -> int:
    me = await scenario.token_query(role, "{ me { id } }", {})
    return decode_id(me["me"]["id"], "User")


async def check_deliveries(scenario: Scenario, summary: dict, campaign_pk: int, log: list[tuple]) -> None:
    tasks = [(seq, kind, task) for seq, kind, task, issue, assignee, previous in log if task is not None]
    issues = [(seq, kind, issue) for seq, kind, task, issue, assignee, previous in log if issue is not None]
    users = {role: await user_pk(scenario, role) for role in ("manager", "contributor", "labeler")}

    def theirs(role: str) -> list[tuple]:
        return [(seq, kind, task) for seq, kind, task, issue, assignee, previous in log
                if task is not None and users[role] in (assignee, previous)]

    def as_logged(updates: list[dict], node: str) -> list[tuple]:
        return [(decode_campaign_cursor(u["cursor"], campaign_pk), u["kind"], decode_id(u[node]["id"], node.capitalize()))
                for u in updates]

    dashboard = scenario.sockets["dashboard"]
    expected = {
        (dashboard, "tasks"): (tasks, "task"), (dashboard, "issues"): (issues, "issue"),
        (scenario.sockets["contributor"], "tasks"): (tasks, "task"),
        (scenario.sockets["labeler"], "tasks"): (theirs("labeler"), "task"),
    }
    assert len(theirs("labeler")) < len(tasks)  # the LABELER hears less than the dashboard
    # The labeler really was away while things that concern them happened (the rework gave their
    # task back to them), and resumed from a cursor, not from the start.
    assert scenario.seen >= {"launchCampaign", "sendTaskToRework", "skipTask", "replyToIssue"}
    away_from = decode_campaign_cursor(scenario.kept[1]["tasks"], campaign_pk)
    assert any(seq > away_from for seq, _, _ in theirs("labeler"))
    for (socket, name), (wanted, node) in expected.items():
        assert as_logged(await socket.wait_for(name, len(wanted)), node) == wanted, name
    for role in ("labeler", "contributor", "manager"):
        wanted = [(kind, task) for seq, kind, task in theirs(role)]
        got = await scenario.sockets[role].wait_for("mine", len(wanted))
        assert [(u["kind"], decode_id(u["task"]["id"], "Task")) for u in got] == wanted, role
    # Nothing more comes to anyone (an absence: a short look, once everything expected is in).
    await asyncio.sleep(0.5)
    for (socket, name), (wanted, _) in expected.items():
        assert len(socket.received[name]) == len(wanted), name
    for role in ("labeler", "contributor", "manager"):
        assert len(scenario.sockets[role].received["mine"]) == len(theirs(role)), role
    final = await scenario.token_query("manager", FINAL_PROGRESS, {"c": summary["campaignId"]})
    async with asyncio.timeout(WITHIN):
        while dashboard.received["progress"][-1] != final["campaign"]["progress"]:
            dashboard.changed.clear()
            await dashboard.changed.wait()


async def test_the_seed_story_on_sqlite_with_the_memory_broker(tmp_path):
    database_url = f"sqlite://{tmp_path / 'stepwise.sqlite3'}"
    env = {"STEPWISE_DATABASE_URL": database_url, "STEPWISE_DATA_DIR": str(tmp_path),
           "STEPWISE_BROKER_URL": "memory://", **SQLITE_SETTINGS}
    with running_server(env) as url:
        await play_and_check([url], database_url)


async def test_the_seed_story_on_two_processes_with_postgresql_and_a_restarted_redis(tmp_path, postgres_url, private_redis):
    env = {"STEPWISE_DATABASE_URL": postgres_url, "STEPWISE_DATA_DIR": str(tmp_path),
           "STEPWISE_BROKER_URL": private_redis.url, "STEPWISE_BROKER_TIMEOUT_MS": "300", **SQLITE_SETTINGS}
    with running_server(env) as a, running_server(env) as b:
        await play_and_check([a, b], postgres_url, private_redis)
