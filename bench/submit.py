"""Benchmark: `submitTask` over HTTP through uvicorn, sequential and concurrent, 1 and 2 workers.

Setup (per backend, fresh database, not timed): a real `python -m stepwise serve` on 127.0.0.1
(uvicorn, one worker, memory:// broker), a manager, an organization, a dataset, 8 annotators and
a reviewer (CONTRIBUTOR workers), a version with 4 labels and enough 1920x1080 assets (one
set-based INSERT through the app's database layer), a campaign [Annotate (annotator1..8),
Review (reviewer1)], ROUND_ROBIN, launched. Each annotator's tasks are listed through the API;
every submit below takes a task no other submit touches, sent by its assignee with
expectedVersion 1: Annotate -> Review, so each submit records the holder, picks the reviewer,
updates the task with its version check, writes a SUBMITTED event and publishes it after commit.

What it measures:

1. sequential (one client, one keep-alive connection, after a warm-up): --sequential submits
   without shapes (the working annotation is kept), then as many with 2 RECTANGLE shapes;
   p50/p90/p99 and the server process's CPU per submit. Target: p50 <= 3 ms.
2. concurrent: 8 clients (one connection each, each its own annotator and tasks) submit
   --per-client tasks each at once; submits/s over the wall-clock time, p50/p99, server CPU.
   Target: >= 500 submits/s with one process.
3. the same with `serve --workers 2` and STEPWISE_BROKER_URL=redis://127.0.0.1:6379 on the same
   database (skipped, with a note, when Redis does not answer). Every error is counted by kind,
   and the server log is searched for "database is locked"; there must be none.
With --pg-activity (PostgreSQL), each concurrent phase also prints the CPU time of the bench
database's backends per submit and their commonest states in pg_stat_activity, sampled every 50 ms
(lock waits, idle in transaction after which statement): bench/pg_activity.py.

4. with --profile, in process (ASGITransport, memory:// broker), sequential: half of
   --profile-requests submits timed with the database calls clocked (`profiling.db_share`: how
   much of the wall time is spent inside Tortoise's client calls), the other half under
   pyinstrument (time by library; pyinstrument's own overhead inflates call-heavy code, so read
   its shares, not its milliseconds); then the SQL statements of one submit.

Every submit must succeed: HTTP 200, no GraphQL errors, no payload errors, the task now IN_PROGRESS
at Review with the reviewer. Errors are counted, printed by kind, and make the script exit
non-zero at the end. The client (this process) shares the 2 CPUs with the server.

Run from the repository root:

    .venv/bin/python bench/submit.py                              # both backends
    .venv/bin/python bench/submit.py --backend sqlite --profile

PostgreSQL is skipped, with a note, when it is unreachable. Exits non-zero on any failure or
when the whole run exceeds --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from common import (
    DEFAULT_POSTGRES_URL,
    REQUEST_TIMEOUT_SECONDS,
    Api,
    BenchError,
    backends_to_run,
    counting_statements,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    in_process_api,
    percentile,
    process_usage,
    require_local,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)
from pg_activity import watching
from workflow_common import (
    create_campaign,
    insert_assets_sql,
    launch,
    load_average,
    pk_of,
    setup_team,
)

ANNOTATORS = [f"annotator{i}" for i in range(1, 9)]
CLIENTS = 8
REDIS_URL = "redis://127.0.0.1:6379"
SUBMIT = """mutation($i: SubmitTaskInput!) { submitTask(input: $i) {
  task { id status version step { name } assignee { username } } errors { code field message } } }"""
TASKS_OF = """query($c: ID!, $f: TaskFilter, $after: String) { campaign(id: $c) { tasks(filter: $f, first: 500, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { id version } } } } }"""
SHAPES = [{"label": "car", "kind": "RECTANGLE", "points": [{"x": 10, "y": 20}, {"x": 300, "y": 200}]},
          {"label": "person", "kind": "RECTANGLE", "points": [{"x": 400, "y": 100}, {"x": 480, "y": 380}]}]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sequential", type=int, default=300, help="timed sequential submits per variant (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed sequential submits first (default 20)")
    parser.add_argument("--per-client", type=int, default=150, help="submits per concurrent client (default 150)")
    parser.add_argument("--pg-activity", action="store_true",
                        help="PostgreSQL: the CPU of the database's backends and what they wait for, sampled"
                             " from pg_stat_activity during the concurrent phases (bench/pg_activity.py)")
    parser.add_argument("--profile", action="store_true", help="profile sequential submits in process with pyinstrument")
    parser.add_argument("--profile-requests", type=int, default=600, help="in-process submits: half timed for the DB share, half profiled (default 600)")
    parser.add_argument("--profile-dir", type=Path, default=Path("/tmp/stepwise-bench-profiles"))
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="an existing database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--timeout", type=float, default=1800, help="bound on the whole run, in seconds (default 1800)")
    args = parser.parse_args(argv)
    if args.sequential < 1 or args.per_client < 1 or args.warmup < 0:
        parser.error("--sequential and --per-client must be >= 1, --warmup >= 0")
    return args


def redis_reachable() -> str | None:
    require_local(REDIS_URL)
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError as error:
        return f"{type(error).__name__}: {error}"
    return None if answer.startswith(b"+PONG") else f"unexpected answer {answer!r}"


class Tasks:
    """Each annotator's untouched Annotate tasks, handed out once."""

    def __init__(self, by_user: dict[str, list[tuple[str, int]]]):
        self.by_user = by_user
        self.turn = 0

    def take(self, user: str) -> tuple[str, int]:
        if not self.by_user[user]:
            raise BenchError(f"{user} has no task left: raise the asset count")
        return self.by_user[user].pop(0)

    def next_any(self) -> tuple[str, tuple[str, int]]:
        user = ANNOTATORS[self.turn % len(ANNOTATORS)]
        self.turn += 1
        return user, self.take(user)


def submit_body(task_id: str, version: int, shapes: bool) -> bytes:
    variables = {"i": {"taskId": task_id, "expectedVersion": version, **({"shapes": SHAPES} if shapes else {})}}
    return json.dumps({"query": SUBMIT, "variables": variables}).encode()


async def submit(client: httpx.AsyncClient, token: str, body: bytes, errors: Counter) -> float | None:
    """Seconds the submit took, or None (and the error counted) when it did not succeed."""
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    started = time.perf_counter()
    try:
        response = await client.post("/graphql", content=body, headers=headers)
    except httpx.HTTPError as error:
        errors[f"transport: {type(error).__name__}: {error}"[:200]] += 1
        return None
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        errors[f"HTTP {response.status_code}: {response.text[:150]}"] += 1
        return None
    answer = response.json()
    if answer.get("errors"):
        errors[f"GraphQL: {answer['errors'][0].get('message', '')[:150]}"] += 1
        return None
    result = answer["data"]["submitTask"]
    if result["errors"]:
        errors[f"payload: {result['errors'][0]['code']}: {result['errors'][0]['message'][:120]}"] += 1
        return None
    task = result["task"]
    if task["status"] != "IN_PROGRESS" or task["step"]["name"] != "Review" or task["assignee"]["username"] != "reviewer1":
        errors[f"unexpected task after submit: {task!r:.150}"] += 1
        return None
    return elapsed


async def list_tasks(api: Api, campaign_id: str, team: dict) -> Tasks:
    by_user: dict[str, list[tuple[str, int]]] = {}
    for name in ANNOTATORS:
        tasks, after = [], None
        while True:
            data = await api.data(TASKS_OF, {"c": campaign_id, "f": {"assigneeId": team[name][1]}, "after": after})
            page = data["campaign"]["tasks"]
            tasks += [(e["node"]["id"], e["node"]["version"]) for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        by_user[name] = tasks
    return Tasks(by_user)


def stats(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50) * 1000, "p90": percentile(values, 90) * 1000,
            "p99": percentile(values, 99) * 1000, "n": len(values)}


async def sequential(base: str, pid: int | None, tasks: Tasks, team: dict, count: int, warmup: int, shapes: bool,
                     errors: Counter) -> dict:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits) as client:
        for _ in range(warmup):
            user, (task_id, version) = tasks.next_any()
            await submit(client, team[user][0], submit_body(task_id, version, shapes), errors)
        planned = [(user, submit_body(task_id, version, shapes)) for user, (task_id, version) in
                   (tasks.next_any() for _ in range(count))]
        before = process_usage(pid) if pid else None
        latencies = []
        for user, body in planned:
            elapsed = await submit(client, team[user][0], body, errors)
            if elapsed is not None:
                latencies.append(elapsed)
        cpu = (process_usage(pid) - before).cpu / count * 1000 if pid else float("nan")
    if not latencies:
        raise BenchError(f"no sequential submit succeeded: {dict(errors)}")
    return {**stats(latencies), "cpu_ms": cpu}


async def concurrent(base: str, pids: list[int], tasks: Tasks, team: dict, per_client: int, errors: Counter,
                     database_url: str | None = None) -> dict:
    """CLIENTS clients at once, each with its own annotator, connection and tasks. On PostgreSQL
    (`database_url`), also the CPU time of the database's backends and what they waited for."""
    plans = []
    for name in ANNOTATORS[:CLIENTS]:
        plans.append((name, [submit_body(*tasks.take(name), False) for _ in range(per_client)]))
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits) for _ in plans]
    latencies: list[float] = []
    start = asyncio.Event()

    async def run(client: httpx.AsyncClient, name: str, bodies: list[bytes]) -> None:
        await client.get("/health")  # open the connection before the clock starts
        await start.wait()
        for body in bodies:
            elapsed = await submit(client, team[name][0], body, errors)
            if elapsed is not None:
                latencies.append(elapsed)

    try:
        runners = [asyncio.create_task(run(c, name, bodies)) for c, (name, bodies) in zip(clients, plans)]
        await asyncio.sleep(0.5)
        async with (watching(database_url) if database_url else contextlib.nullcontext()) as activity:
            before = [process_usage(p) for p in pids]
            started = time.perf_counter()
            start.set()
            await asyncio.gather(*runners)
            wall = time.perf_counter() - started
            cpu = sum((process_usage(p) - b).cpu for p, b in zip(pids, before))
    finally:
        for client in clients:
            await client.aclose()
    total = CLIENTS * per_client
    return {**(stats(latencies) if latencies else {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "n": 0}),
            "ok": len(latencies), "total": total, "wall": wall, "rate": len(latencies) / wall,
            "cpu_ms": cpu / total * 1000, "activity": activity}


def report_activity(tag: str, c: dict) -> None:
    """PostgreSQL: its backends' CPU per submit, and their commonest states while the clients ran."""
    activity = c.get("activity")
    if activity is None:
        return
    say(f"{tag}   CPU per 1,000 submits: database backends {activity.cpu_seconds / c['total'] * 1000:.2f} s,"
        f" uvicorn {c['cpu_ms']:.2f} s; {activity.samples} samples of pg_stat_activity, backends on average:")
    for share, what in activity.top():
        say(f"{tag}     {share:5.2f}  {what}")


def worker_pids(supervisor: int) -> list[int]:
    """uvicorn's worker processes (children of the supervisor), for their CPU time."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children")
    try:
        return [int(p) for p in children.read_text().split()]
    except OSError:
        return []


def report_errors(tag: str, errors: Counter) -> None:
    if not errors:
        say(f"{tag} errors: none")
        return
    say(f"{tag} errors: {sum(errors.values())}")
    for kind, n in errors.most_common():
        say(f"{tag}   {n:5d} x {kind}")


async def bench_backend(backend: str, args: argparse.Namespace) -> dict:
    tag = f"[{backend}]"
    result: dict = {"backend": backend, "errors": {}}
    needed = (2 * (args.warmup + args.sequential) + 2 * CLIENTS * args.per_client
              + (args.profile_requests + args.warmup + 1 if args.profile else 0))
    assets = (needed * 12 // 10 // len(ANNOTATORS) + 1) * len(ANNOTATORS)
    say(f"{tag} fresh database, starting the server (1 worker, memory:// broker)...")
    async with fresh_database(backend, args.postgres_url) as env:
        url = env["STEPWISE_DATABASE_URL"]
        pg_url = url if backend == "postgres" and args.pg_activity else None
        async with running_server(env) as server, http_api(server.base) as api:
            say(f"{tag} server up at {server.base} (pid {server.pid})")
            await sign_up_manager(api)
            dataset_id = await create_dataset(api)
            team = await setup_team(api, dataset_id, [*ANNOTATORS, "reviewer1"])
            version_id = await create_version(api, dataset_id, "v1")
            await insert_assets_sql(url, pk_of(version_id), assets)
            steps = [("Annotate", "ANNOTATION", [team[n][1] for n in ANNOTATORS]), ("Review", "REVIEW", [team["reviewer1"][1]])]
            campaign_id = await create_campaign(api, version_id, steps, "ROUND_ROBIN")
            await launch(api, campaign_id)
            tasks = await list_tasks(api, campaign_id, team)
            say(f"{tag} campaign launched with {assets} tasks ({assets // len(ANNOTATORS)} per annotator)")

            for shapes in (False, True):
                errors: Counter = Counter()
                label = "sequential, 2 shapes" if shapes else "sequential, no shapes"
                say(f"{tag} {label}: {args.warmup} warm-up + {args.sequential} submits; {load_average()}")
                s = await sequential(server.base, server.pid, tasks, team, args.sequential, args.warmup, shapes, errors)
                s["load"] = load_average()
                result[label] = s
                result["errors"][label] = errors
                say(f"{tag} {label:<22} p50 {s['p50']:6.2f} ms  p90 {s['p90']:6.2f} ms  p99 {s['p99']:6.2f} ms  "
                    f"server CPU {s['cpu_ms']:.2f} ms/submit  (n={s['n']}; {s['load']})")
                report_errors(f"{tag} {label}:", errors)

            errors = Counter()
            say(f"{tag} {CLIENTS} concurrent clients x {args.per_client} submits, 1 worker; {load_average()}")
            c = await concurrent(server.base, [server.pid], tasks, team, args.per_client, errors, pg_url)
            c["load"] = load_average()
            result["concurrent, 1 worker"] = c
            result["errors"]["concurrent, 1 worker"] = errors
            say(f"{tag} concurrent, 1 worker   {c['rate']:7.0f} submits/s  p50 {c['p50']:6.1f} ms  p99 {c['p99']:6.1f} ms  "
                f"server CPU {c['cpu_ms']:.2f} ms/submit  ({c['ok']}/{c['total']} ok in {c['wall']:.2f} s; {c['load']})")
            report_activity(tag, c)
            report_errors(f"{tag} concurrent, 1 worker:", errors)
            token = api.token

        why = redis_reachable()
        if why is not None:
            say(f"{tag} NOTE: Redis at {REDIS_URL} does not answer ({why}); skipping --workers 2.")
        else:
            env2 = {**env, "STEPWISE_BROKER_URL": REDIS_URL}
            log_path = Path(env["STEPWISE_DATA_DIR"]) / "server.log"
            say(f"{tag} restarting with --workers 2 and STEPWISE_BROKER_URL={REDIS_URL} on the same database...")
            async with running_server(env2, ("--workers", "2")) as server:
                await asyncio.sleep(1.0)  # let both workers finish their startup
                pids = worker_pids(server.pid)
                errors = Counter()
                say(f"{tag} {CLIENTS} concurrent clients x {args.per_client} submits, 2 workers (pids {pids}); {load_average()}")
                c = await concurrent(server.base, [server.pid, *pids], tasks, team, args.per_client, errors, pg_url)
                c["load"] = load_average()
                result["concurrent, 2 workers"] = c
                result["errors"]["concurrent, 2 workers"] = errors
                say(f"{tag} concurrent, 2 workers  {c['rate']:7.0f} submits/s  p50 {c['p50']:6.1f} ms  p99 {c['p99']:6.1f} ms  "
                    f"server CPU {c['cpu_ms']:.2f} ms/submit  ({c['ok']}/{c['total']} ok in {c['wall']:.2f} s; {c['load']})")
                report_activity(tag, c)
                report_errors(f"{tag} concurrent, 2 workers:", errors)
            log = log_path.read_text(errors="replace")
            locked = log.count("database is locked")
            tracebacks = log.count("Traceback")
            result["log"] = {"database is locked": locked, "Traceback": tracebacks}
            say(f"{tag} server log: {locked} 'database is locked', {tracebacks} tracebacks")
            if locked or tracebacks:
                errors["server log: 'database is locked' or traceback"] += locked + tracebacks

        if args.profile:
            from profiling import db_share, profiled

            async with in_process_api(env) as local:
                local.token = token
                errors = Counter()
                limits_note = "memory:// broker"
                client = local.client
                for _ in range(args.warmup):
                    user, (task_id, version) = tasks.next_any()
                    await submit(client, team[user][0], submit_body(task_id, version, False), errors)
                planned = [(user, submit_body(task_id, version, False)) for user, (task_id, version) in
                           (tasks.next_any() for _ in range(args.profile_requests))]
                half = len(planned) // 2
                shared = iter(planned[half:])

                async def one_submit() -> None:
                    user, body = next(shared)
                    await submit(client, team[user][0], body, errors)

                result["db_share"] = await db_share(f"submit {backend} in-process ({limits_note})",
                                                    len(planned) - half, one_submit)
                async with profiled(f"submit {backend} in-process ({limits_note})", args.profile_dir, half):
                    for user, body in planned[:half]:
                        await submit(client, team[user][0], body, errors)
                with counting_statements() as counter:
                    user, (task_id, version) = tasks.next_any()
                    await submit(client, team[user][0], submit_body(task_id, version, False), errors)
                result["statements"] = len(counter.statements)
                say(f"{tag} SQL statements of one submit (in process): {len(counter.statements)}")
                for statement in counter.statements:
                    say(f"    {' '.join(statement.split())[:160]}")
                result["errors"]["profile"] = errors
                report_errors(f"{tag} profile:", errors)
    return result


async def main(args: argparse.Namespace) -> None:
    results = []
    for backend in await backends_to_run(args.backend, args.postgres_url):
        results.append(await bench_backend(backend, args))
    if not results:
        say("nothing ran")
        return
    say("")
    say("submitTask over HTTP (uvicorn), Annotate -> Review, each submit on its own task")
    say(f"{'backend':<9}{'phase':<24}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'submits/s':>10}{'CPU ms':>8}{'errors':>7}  load (1/5/15)")
    failed = 0
    for r in results:
        for phase in ("sequential, no shapes", "sequential, 2 shapes", "concurrent, 1 worker", "concurrent, 2 workers"):
            if phase not in r:
                continue
            s = r[phase]
            n_errors = sum(r["errors"][phase].values())
            failed += n_errors
            rate = f"{s['rate']:.0f}" if "rate" in s else ""
            say(f"{r['backend']:<9}{phase:<24}{s['p50']:>8.2f}{s['p90']:>8.2f}{s['p99']:>8.2f}{rate:>10}"
                f"{s['cpu_ms']:>8.2f}{n_errors:>7}  {s['load']}")
        failed += sum(r["errors"].get("profile", Counter()).values())
        if "log" in r:
            say(f"{r['backend']:<9}server log (--workers 2 run): {r['log']['database is locked']} 'database is locked', "
                f"{r['log']['Traceback']} tracebacks")
        seq = r["sequential, no shapes"]["p50"]
        conc = r["concurrent, 1 worker"]["rate"]
        say(f"{r['backend']:<9}targets: sequential p50 {seq:.2f} ms (<= 3: {'met' if seq <= 3 else 'MISSED'}), "
            f"8 clients 1 worker {conc:.0f}/s (>= 500: {'met' if conc >= 500 else 'MISSED'})")
    if failed:
        raise BenchError(f"{failed} submit(s) failed (see the error lines above)")


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
