"""Benchmark: realtime fan-out over real websockets against `python -m stepwise serve`.

Setup (per backend, fresh database, not timed): a real server on 127.0.0.1 (one worker; broker
memory:// on SQLite, redis://127.0.0.1:6379 on PostgreSQL when Redis answers, else memory://),
a manager, an organization, a dataset and version, --tasks assets, a one-step campaign assigned
to the manager, launched. The subscribers are the manager's (one user, so the server runs with
STEPWISE_MAX_SUBSCRIPTIONS_PER_USER raised to --subscribers), each on its own graphql-transport-ws
socket with `taskUpdates(campaignId)` selecting `kind at cursor task { id status assignee { username } }`.
A start is one update; a submit at the campaign's only step is two (SUBMITTED, DONE).

What it measures:

1. fan-out latency: --subscribers sockets subscribed to the campaign, each following from the
   campaign's `eventCursor` read before it opens (so the first start reaches every one, however
   late the server registers it) and confirmed by that first update, not by a sleep; then
   --rounds tasks started and submitted one after the other (each mutation waits until every
   subscriber has its update). Latency = the moment a subscriber's client read the update minus
   the update's `at` (the event's time, taken in the writing transaction just before its
   commit; same machine, same clock): p50 and p99 over every delivery. Also the server's CPU
   per delivered update, and this client's own (what reading 1,000 sockets in one process
   costs, on the same CPUs as the server).
2. memory per idle subscriber: the server's resident memory (VmRSS) before the sockets open and
   once they are all subscribed, divided by --subscribers.
3. catch-up speed: a second campaign of --catch-up-tasks tasks is launched, then one subscriber
   subscribes with `after:` the log's start and reads all its CREATED updates: updates/s.

The fan-out's subscribers are light clients (bench/fanout_clients.py: a bare asyncio protocol
per socket, frames parsed as they arrive, every update still parsed with json.loads), shared out
over --client-processes processes (default 1); this process only sets up, writes and waits.
They share the machine's CPUs with the server: their reading adds to the latencies, and the
script reports their CPU per delivery next to the server's. They offer no per-message deflate
(the server offers it only with --ws-deflate, STEPWISE_WS_DEFLATE=on). The catch-up reader is a
`websockets` client. Run from the repository root:

    .venv/bin/python bench/fanout.py --backend sqlite
    .venv/bin/python bench/fanout.py --backend postgres --subscribers 1000 --catch-up-tasks 100000
    .venv/bin/python bench/fanout.py --backend sqlite --catch-up-tasks 200 --rounds 11 --client-processes 2

Exits non-zero on any failure or when the run exceeds --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path

import websockets
from common import (
    DEFAULT_POSTGRES_URL,
    Api,
    BenchError,
    backends_to_run,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    percentile,
    process_usage,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)
from fanout_clients import serve as serve_subscribers
from workflow_common import create_campaign, insert_assets_sql, launch, load_average, pk_of


UPDATES = ("subscription($c: ID!, $a: String) { taskUpdates(campaignId: $c, after: $a) "
           "{ kind at cursor task { id status assignee { username } } } }")
ME = "query { me { id } }"
CURSOR = "query($c: ID!) { campaign(id: $c) { eventCursor } }"
TASK_IDS = "query($c: ID!, $n: Int!) { campaign(id: $c) { tasks(first: $n) { edges { node { id } } } } }"
START = "mutation($i: TaskInput!) { startTask(input: $i) { errors { code message } } }"
SUBMIT = "mutation($i: SubmitTaskInput!) { submitTask(input: $i) { errors { code message } } }"


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as probe:
            probe.sendall(b"PING\r\n")
            return probe.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def fanout_counts(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/health", timeout=10) as answer:
        return json.loads(answer.read()).get("fanout", {})


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError("no VmRSS")


def seconds_since(at: str) -> float:
    return time.time() - datetime.fromisoformat(at).timestamp()


class Subscriber:
    """The catch-up reader: one `websockets` socket with one taskUpdates subscription."""

    def __init__(self, url: str, token: str, campaign: str, after: str | None = None) -> None:
        self.url, self.token, self.variables = url, token, {"c": campaign, "a": after}
        self.latencies: list[float] = []
        self.cursors: set[str] = set()
        self.kinds: Counter[str] = Counter()
        self.count = 0
        self.error: BaseException | None = None
        self.arrived = asyncio.Event()
        self.socket = None
        self.reader: asyncio.Task | None = None

    async def open(self) -> None:
        self.socket = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"], max_size=None,
                                               ping_interval=None, open_timeout=60)
        await self.socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}))
        if json.loads(await self.socket.recv())["type"] != "connection_ack":
            raise BenchError("no connection_ack")
        await self.socket.send(json.dumps({"id": "1", "type": "subscribe",
                                           "payload": {"query": UPDATES, "variables": self.variables}}))
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            await self._receive()
        except BaseException as error:  # said by until(), not lost in a task nobody awaits
            self.error = error
            self.arrived.set()
            raise

    async def _receive(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message["type"] != "next":
                raise BenchError(f"unexpected message {message!r:.300}")
            if "errors" in message["payload"]:
                raise BenchError(f"errors: {message['payload']['errors']!r:.300}")
            update = message["payload"]["data"]["taskUpdates"]
            self.latencies.append(seconds_since(update["at"]))
            self.cursors.add(update["cursor"])
            self.kinds[update["kind"]] += 1
            self.count += 1
            self.arrived.set()
        # The server closed the socket cleanly: said, not left as a silent wait for the next update.
        raise BenchError(f"the server closed the socket after {self.count} updates: "
                         f"code {self.socket.close_code}, reason {self.socket.close_reason!r}")

    async def until(self, count: int) -> None:
        while self.count < count:
            self.arrived.clear()
            if self.error is not None:
                raise BenchError(f"a subscriber failed: {self.error!r:.500}")
            try:
                await asyncio.wait_for(self.arrived.wait(), 120)
            except TimeoutError:
                raise BenchError(f"a subscriber waited 120 s for update {count} (has {self.count})") from None

    async def close(self) -> None:
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)
        await self.socket.close()


class ClientProcesses:
    """The fan-out's subscribers, shared out over `count` processes (bench/fanout_clients.py),
    each told what to do over a pipe."""

    def __init__(self, count: int, url: str, token: str, variables: dict, subscribers: int) -> None:
        context = multiprocessing.get_context("spawn")
        shares = [subscribers // count + (1 if i < subscribers % count else 0) for i in range(count)]
        self.pipes, self.processes = [], []
        for share in shares:
            mine, theirs = context.Pipe()
            process = context.Process(target=serve_subscribers, args=(theirs, url, token, UPDATES, variables, share),
                                      daemon=True)
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    async def answers(self) -> list:
        loop = asyncio.get_running_loop()
        got = await asyncio.gather(*(loop.run_in_executor(None, pipe.recv) for pipe in self.pipes))
        for answer in got:
            if answer[0] == "error":
                raise BenchError(f"a subscriber failed: {answer[1]}")
        return got

    async def ask(self, *command) -> list:
        for pipe in self.pipes:
            pipe.send(command)
        return await self.answers()

    async def close(self) -> None:
        await self.ask("close")
        for process in self.processes:
            process.join(10)


async def act(api: Api, query: str, task_id: str, field: str) -> None:
    errors = (await api.data(query, {"i": {"taskId": task_id}}))[field]["errors"]
    if errors:
        raise BenchError(f"{field}: {errors}")


async def run_backend(backend: str, args) -> None:
    broker = "memory://"
    if backend == "postgres" and redis_answers():
        broker = "redis://127.0.0.1:6379"
    async with fresh_database(backend, args.postgres_url) as env:
        try:
            await measure(backend, args, broker, env)
        except BenchError:
            log = Path(env["STEPWISE_DATA_DIR"]) / "server.log"
            say(f"[{backend}] server log (end):\n{log.read_text()[-4000:] if log.exists() else '(none)'}")
            raise


async def measure(backend: str, args, broker: str, env: dict) -> None:
    if True:
        env = {**env, "STEPWISE_BROKER_URL": broker, "STEPWISE_MAX_SUBSCRIPTIONS_PER_USER": str(args.subscribers + 10),
               "STEPWISE_LOG_LEVEL": "WARNING", **({"STEPWISE_WS_DEFLATE": "on"} if args.ws_deflate else {})}
        async with running_server(env) as server, http_api(server.base) as api:
            token = await sign_up_manager(api)
            manager_id = (await api.data(ME))["me"]["id"]
            dataset = await create_dataset(api)
            version = await create_version(api, dataset, "v1")
            await insert_assets_sql(env["STEPWISE_DATABASE_URL"], pk_of(version), args.tasks)
            campaign = await create_campaign(api, version, [("Annotate", "ANNOTATION", [manager_id])], "ROUND_ROBIN")
            await launch(api, campaign)
            task_ids = [e["node"]["id"] for e in (await api.data(TASK_IDS, {"c": campaign, "n": args.rounds}))
                        ["campaign"]["tasks"]["edges"]]
            url = server.base.replace("http", "ws") + "/graphql"
            say(f"[{backend}] broker {broker}, {args.subscribers} subscribers, "
                f"server offers deflate: {'yes' if args.ws_deflate else 'default'}, {load_average()}")

            before = rss_kib(server.pid)
            # Each follows from the log's position now (`after:`): the first start below reaches
            # every one of them, whenever the server gets to register its subscription.
            cursor = (await api.data(CURSOR, {"c": campaign}))["campaign"]["eventCursor"]
            clients = ClientProcesses(args.client_processes, url, token, {"c": campaign, "a": cursor}, args.subscribers)
            await clients.answers()  # every socket open and subscribed
            # Registered: each subscriber hears the first start (not counted in the figures).
            await act(api, START, task_ids[0], "startTask")
            await clients.ask("until", 1)
            idle = rss_kib(server.pid)
            await clients.ask("measure")

            used, fanout_before = process_usage(server.pid), fanout_counts(server.base)
            delivered = 1
            for task_id in task_ids[1:]:
                # A start is one event; a submit at the only step two (SUBMITTED, then DONE).
                for query, field, events in ((START, "startTask", 1), (SUBMIT, "submitTask", 2)):
                    await act(api, query, task_id, field)
                    delivered += events
                    await clients.ask("until", delivered)
            cpu = (process_usage(server.pid) - used).cpu
            fanout_after = fanout_counts(server.base)
            reports = [answer[1] for answer in await clients.ask("report")]
            client_cpu = sum(r["cpu"] for r in reports)
            latencies = [x for r in reports for x in r["latencies"]]
            repeated = sum(r["repeated"] for r in reports)
            kinds = sum((Counter(r["kinds"]) for r in reports), Counter())
            say(f"[{backend}] updates by kind (all subscribers, from the first START on): {dict(kinds)}")
            if repeated:
                say(f"[{backend}] WARNING: {repeated} updates delivered more than once")
            say(f"[{backend}] fan-out: {len(latencies)} deliveries, latency commit->client p50 "
                f"{percentile(latencies, 50) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms; "
                f"server CPU {cpu / len(latencies) * 1e6:.0f} us per delivery, "
                f"the clients' CPU {client_cpu / len(latencies) * 1e6:.0f} us per delivery "
                f"({args.client_processes} process{'es' if args.client_processes > 1 else ''})")
            if "inStep" in fanout_after:  # builds with the send loop
                say(f"[{backend}] send loop: {fanout_after['inStep'] - fanout_before['inStep']} of "
                    f"{fanout_after['deliveries'] - fanout_before['deliveries']} shared deliveries sent in step "
                    "(/health fanout)")
            say(f"[{backend}] memory: {(idle - before) / args.subscribers:.1f} KiB per idle subscriber "
                f"(RSS {before / 1024:.0f} -> {idle / 1024:.0f} MiB)")
            await clients.close()

            # Catch-up: a launch read through from the log's start by one subscriber.
            version2 = await create_version(api, dataset, "v2")
            await insert_assets_sql(env["STEPWISE_DATABASE_URL"], pk_of(version2), args.catch_up_tasks)
            big = await create_campaign(api, version2, [("Annotate", "ANNOTATION", [manager_id])], "ROUND_ROBIN")
            await launch(api, big)
            from stepwise.schema.event_cursors import campaign_cursor

            reader = Subscriber(url, token, big, after=campaign_cursor(pk_of(big), 0))
            started = time.perf_counter()
            await reader.open()
            await reader.until(args.catch_up_tasks)
            elapsed = time.perf_counter() - started
            await reader.close()
            say(f"[{backend}] catch-up: {args.catch_up_tasks} updates in {elapsed:.1f} s, "
                f"{args.catch_up_tasks / elapsed:.0f} updates/s")


async def main(args) -> None:
    for backend in await backends_to_run(args.backend, args.postgres_url):
        await run_backend(backend, args)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6, help="tasks started then submitted (the first warms up)")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--catch-up-tasks", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--client-processes", type=int, default=1,
                        help="processes the fan-out's subscribers are shared out over (bench/fanout_clients.py)")
    parser.add_argument("--ws-deflate", action="store_true",
                        help="run the server with STEPWISE_WS_DEFLATE=on (per-message deflate offered; clients accept it)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
