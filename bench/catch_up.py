"""Benchmark: catching up through a big launch, and a launch's speed with subscribers connected.

Setup (per backend, fresh database, not timed): a real server on 127.0.0.1 (one worker; broker
memory:// on SQLite, redis://127.0.0.1:6379 on PostgreSQL when Redis answers), a manager, a
dataset; each round's campaign gets --tasks assets of its own version (inserted by SQL) and one
ANNOTATION step assigned to the manager, ROUND_ROBIN.

What it measures:

1. a launch with and without subscribers, --rounds times each, alternately (none, with, none,
   with, ...): the `launchCampaign` request's wall time and the server's CPU meanwhile. "With":
   --subscribers dashboard sockets of the manager, each with `campaignProgress` (its first push
   confirms the socket is served) and `taskUpdates(after: eventCursor)` on the campaign, opened
   before the launch. They are closed once the launch has returned and each has received its
   first CREATED (otherwise each would go on reading its 100,000 updates into the next round).
2. catch-up: one subscriber subscribes to a launched campaign's `taskUpdates` with `after:` the
   log's start and reads every CREATED: updates/s delivered, and the server's CPU per update.

The client shares the machine's CPUs with the server. Run from the repository root:

    .venv/bin/python bench/catch_up.py --backend sqlite
    .venv/bin/python bench/catch_up.py --backend postgres --tasks 100000 --rounds 2

Exits non-zero on any failure or when the run exceeds --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter

import websockets
from common import (
    DEFAULT_POSTGRES_URL,
    BenchError,
    backends_to_run,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    process_usage,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)
from fanout import ME, Subscriber, redis_answers
from workflow_common import create_campaign, insert_assets_sql, launch, load_average, pk_of

PROGRESS = "subscription($c: ID!) { campaignProgress(campaignId: $c) { totalTasks done } }"
UPDATES = ("subscription($c: ID!, $a: String) { taskUpdates(campaignId: $c, after: $a) "
           "{ kind at cursor task { id status assignee { username } } } }")
CURSOR = "query($c: ID!) { campaign(id: $c) { eventCursor } }"


class Dashboard:
    """One socket with campaignProgress and taskUpdates on one campaign; counts what comes."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.counts: Counter[str] = Counter()
        self.arrived = asyncio.Event()
        self.first_update: float | None = None  # perf_counter() of the first taskUpdates message
        self.socket = None
        self.reader: asyncio.Task | None = None

    async def open(self, campaign: str, cursor: str, progress: bool = True) -> None:
        self.socket = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"], max_size=None,
                                               ping_interval=None, open_timeout=60)
        await self.socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}))
        if json.loads(await self.socket.recv())["type"] != "connection_ack":
            raise BenchError("no connection_ack")
        wanted = [("progress", PROGRESS, {"c": campaign})] if progress else []
        for name, query, variables in [*wanted, ("tasks", UPDATES, {"c": campaign, "a": cursor})]:
            await self.socket.send(json.dumps({"id": name, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
        self.reader = asyncio.create_task(self._read())
        if progress:
            await self.until("progress", 1)

    async def _read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message["type"] != "next" or "errors" in message["payload"]:
                raise BenchError(f"unexpected message {message!r:.300}")
            self.counts[message["id"]] += 1
            if message["id"] == "tasks" and self.first_update is None:
                self.first_update = time.perf_counter()
            self.arrived.set()

    async def until(self, name: str, count: int) -> None:
        async with asyncio.timeout(120):
            while self.counts[name] < count:
                self.arrived.clear()
                if self.reader.done():
                    self.reader.result()
                    raise BenchError("the socket closed")
                await self.arrived.wait()

    async def close(self) -> None:
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)
        await self.socket.close()


async def prepared_campaign(api, env: dict, dataset: str, manager_id: str, name: str, tasks: int) -> str:
    version = await create_version(api, dataset, name)
    await insert_assets_sql(env["STEPWISE_DATABASE_URL"], pk_of(version), tasks)
    return await create_campaign(api, version, [("Annotate", "ANNOTATION", [manager_id])], "ROUND_ROBIN")


async def measure(backend: str, args, env: dict) -> None:
    broker = "redis://127.0.0.1:6379" if backend == "postgres" and redis_answers() else "memory://"
    env = {**env, "STEPWISE_BROKER_URL": broker, "STEPWISE_LOG_LEVEL": "WARNING",
           "STEPWISE_MAX_SUBSCRIPTIONS_PER_USER": str(2 * args.subscribers + 10)}
    async with running_server(env) as server, http_api(server.base) as api:
        token = await sign_up_manager(api)
        manager_id = (await api.data(ME))["me"]["id"]
        dataset = await create_dataset(api)
        url = server.base.replace("http", "ws") + "/graphql"
        say(f"[{backend}] broker {broker}, {args.tasks} tasks, {args.subscribers} subscribers, {load_average()}")
        results: dict[str, list[tuple[float, float]]] = {"none": [], "with": []}
        for round_number in range(args.rounds):
            for mode in ("none", "with"):
                campaign = await prepared_campaign(api, env, dataset, manager_id, f"r{round_number}{mode}", args.tasks)
                dashboards = []
                if mode == "with":
                    cursor = (await api.data(CURSOR, {"c": campaign}))["campaign"]["eventCursor"]
                    dashboards = [Dashboard(url, token) for _ in range(args.subscribers)]
                    await asyncio.gather(*(d.open(campaign, cursor, not args.without_progress) for d in dashboards))
                await asyncio.sleep(1)  # let the setup's work settle before the timed request
                used = process_usage(server.pid)
                sent = time.perf_counter()
                elapsed = await launch(api, campaign)
                cpu = (process_usage(server.pid) - used).cpu
                results[mode].append((elapsed, cpu))
                # Whether the subscribers' deliveries ran inside the request's span: updates
                # they had received when its response came (then, when their first one came).
                early = sum(d.counts["tasks"] for d in dashboards)
                say(f"[{backend}] launch {mode:<4} subscribers: {elapsed * 1000:,.0f} ms (server CPU {cpu * 1000:,.0f} ms), "
                    f"{load_average()}")
                await asyncio.gather(*(d.until("tasks", 1) for d in dashboards))  # they were served
                if dashboards:
                    first = min(d.first_update for d in dashboards) - sent - elapsed
                    say(f"[{backend}]   {early} updates had arrived with the response; the first came "
                        f"{first * 1000:,.0f} ms after it")
                await asyncio.gather(*(d.close() for d in dashboards))
        for mode, runs in results.items():
            say(f"[{backend}] launch {mode}: " + ", ".join(f"{e * 1000:,.0f} ms ({c * 1000:,.0f})" for e, c in runs))

        from stepwise.schema.event_cursors import campaign_cursor

        big = await prepared_campaign(api, env, dataset, manager_id, "catch-up", args.catch_up_tasks)
        await launch(api, big)
        reader = Subscriber(url, token, big, after=campaign_cursor(pk_of(big), 0))
        used = process_usage(server.pid)
        started = time.perf_counter()
        await reader.open()
        await reader.until(args.catch_up_tasks)
        elapsed = time.perf_counter() - started
        cpu = (process_usage(server.pid) - used).cpu
        await reader.close()
        if reader.count != len(reader.cursors) or reader.kinds != Counter({"CREATED": args.catch_up_tasks}):
            raise BenchError(f"catch-up delivered {dict(reader.kinds)}, {reader.count - len(reader.cursors)} twice")
        say(f"[{backend}] catch-up: {args.catch_up_tasks} updates in {elapsed:.1f} s, {args.catch_up_tasks / elapsed:,.0f} "
            f"updates/s, server CPU {cpu / args.catch_up_tasks * 1e6:.0f} us per update, {load_average()}")


async def main(args) -> None:
    for backend in await backends_to_run(args.backend, args.postgres_url):
        async with fresh_database(backend, args.postgres_url) as env:
            await measure(backend, args, env)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks of each timed launch")
    parser.add_argument("--rounds", type=int, default=2, help="launches without subscribers, and as many with them")
    parser.add_argument("--catch-up-tasks", type=int, default=100_000)
    parser.add_argument("--without-progress", action="store_true",
                        help="the dashboards subscribe to taskUpdates only (no campaignProgress)")
    parser.add_argument("--timeout", type=float, default=1800)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
