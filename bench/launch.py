"""Benchmark: `launchCampaign` on a version of 100,000 assets, over real HTTP.

Setup (per backend, fresh database, not timed): a real `python -m stepwise serve` on 127.0.0.1
(uvicorn, one worker), a manager, an organization, a dataset, three workers (annotator1,
annotator2, reviewer1) and, per launch, a new version with 4 labels filled with 100,000
1920x1080 assets, every third one with a pre-existing annotation (one RECTANGLE; with the
default BACK_TO_ANNOTATION strategy every asset still enters Annotate, without a copy). With --setup sql (the
default) the assets go in with one set-based INSERT ... SELECT through the app's database layer
(`workflow_common.insert_assets_sql`); with --setup api, by 10 `addAssets` calls of 10,000 over
HTTP (`make_assets`: every third asset with 1 to 3 RECTANGLE shapes), much slower on PostgreSQL.
Each version gets a DRAFT campaign with the steps [Annotate (ANNOTATION: annotator1,
annotator2), Review (REVIEW: reviewer1)].

What it measures: the wall-clock time of the `launchCampaign` request (body encoded before the
clock starts, response `campaign { status launchedAt }`), i.e. one transaction that inserts
100,000 tasks, their CREATED events and copied annotations; reported as tasks/s, with the
server process's CPU time over the request. --rounds launches with ROUND_ROBIN, then one with
LEAST_LOADED (at launch every load is 0, so it takes the same set-based rotation path).
After each launch, the API must report status ONGOING, `tasks { totalCount }` = 100,000 and
50,000 tasks for each annotator.

Target: >= 150,000 tasks/s on SQLite.

Run from the repository root:

    .venv/bin/python bench/launch.py                      # both backends, 3 ROUND_ROBIN + 1 LEAST_LOADED
    .venv/bin/python bench/launch.py --backend sqlite --rounds 1
    .venv/bin/python bench/launch.py --setup api           # assets through 10 addAssets calls per version

PostgreSQL is skipped, with a note, when it is unreachable. Exits non-zero on any failure or
when the whole run exceeds --timeout seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import (
    DEFAULT_POSTGRES_URL,
    BenchError,
    QueryCounter,
    add_assets,
    backends_to_run,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    in_process_api,
    make_assets,
    process_usage,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)
from workflow_common import (
    create_campaign,
    insert_assets_sql,
    launch,
    load_average,
    pk_of,
    setup_team,
    total_tasks,
)

ASSETS = 100_000
FIRST_TASKS = """query($c: ID!) { campaign(id: $c) { tasks(first: 3) { edges { node { asset { annotation { shapes { kind label { name } } } } } } } } }"""
CHUNK = 10_000
TARGET_SQLITE = 150_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3, help="ROUND_ROBIN launches per backend (default 3)")
    parser.add_argument("--statements", action="store_true",
                        help="then one more launch in process, timing each SQL statement")
    parser.add_argument("--setup", choices=["sql", "api"], default="sql", help="how the assets are created (default sql)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="an existing database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--timeout", type=float, default=1800, help="bound on the whole run, in seconds (default 1800)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    return args


def chunk_assets(chunk: int) -> list[dict]:
    """10,000 assets with filenames unique across the version's chunks."""
    assets = make_assets(CHUNK, seed=chunk + 1)
    for asset in assets:
        asset["filename"] = f"c{chunk:02d}/" + asset["filename"]
    return assets


async def bench_backend(backend: str, args: argparse.Namespace) -> list[dict]:
    rows = []
    say(f"[{backend}] fresh database, starting the server...")
    async with fresh_database(backend, args.postgres_url) as env:
        async with running_server(env) as server, http_api(server.base) as api:
            say(f"[{backend}] server up at {server.base} (pid {server.pid})")
            await sign_up_manager(api)
            dataset_id = await create_dataset(api)
            team = await setup_team(api, dataset_id, ["annotator1", "annotator2", "reviewer1"])
            steps = [("Annotate", "ANNOTATION", [team["annotator1"][1], team["annotator2"][1]]),
                     ("Review", "REVIEW", [team["reviewer1"][1]])]
            chunks = [chunk_assets(c) for c in range(ASSETS // CHUNK)] if args.setup == "api" else []
            plan = ["ROUND_ROBIN"] * args.rounds + ["LEAST_LOADED"]
            for index, policy in enumerate(plan, 1):
                version_id = await create_version(api, dataset_id, f"v{index}")
                started = time.perf_counter()
                if args.setup == "api":
                    for chunk in chunks:
                        await add_assets(api, version_id, chunk)
                    how = f"{len(chunks)} addAssets calls"
                else:
                    await insert_assets_sql(env["STEPWISE_DATABASE_URL"], pk_of(version_id), ASSETS, annotated_every=3)
                    how = "one INSERT ... SELECT"
                say(f"[{backend}] launch {index}/{len(plan)}: version of {ASSETS} assets added "
                    f"({how}) in {time.perf_counter() - started:.1f} s; {load_average()}")
                campaign_id = await create_campaign(api, version_id, steps, policy)
                before = process_usage(server.pid)
                load = load_average()
                elapsed = await launch(api, campaign_id)
                cpu = (process_usage(server.pid) - before).cpu
                total = await total_tasks(api, campaign_id)
                per_annotator = [await total_tasks(api, campaign_id, {"assigneeId": team[n][1]})
                                 for n in ("annotator1", "annotator2")]
                if total != ASSETS or per_annotator != [ASSETS // 2, ASSETS // 2]:
                    raise BenchError(f"after launch: totalCount {total}, per annotator {per_annotator}; "
                                     f"expected {ASSETS} and {ASSETS // 2} each")
                first = await api.data(FIRST_TASKS, {"c": campaign_id})
                annotated = [bool(e["node"]["asset"]["annotation"]) for e in first["campaign"]["tasks"]["edges"]]
                if annotated != [True, False, False]:
                    raise BenchError(f"assets of the first 3 tasks annotated: {annotated}, expected [True, False, False]")
                rate = ASSETS / elapsed
                say(f"[{backend}] launch {index}/{len(plan)} {policy:<12} {elapsed * 1000:8.1f} ms  "
                    f"{rate:9,.0f} tasks/s  server CPU {cpu * 1000:.0f} ms  (totalCount {total}, "
                    f"{per_annotator[0]}/{per_annotator[1]} per annotator; {load} before)")
                rows.append({"backend": backend, "policy": policy, "seconds": elapsed, "rate": rate, "cpu": cpu,
                             "load": load})
            if args.statements:
                version_id = await create_version(api, dataset_id, "statements")
                await insert_assets_sql(env["STEPWISE_DATABASE_URL"], pk_of(version_id), ASSETS, annotated_every=3)
                campaign_id = await create_campaign(api, version_id, steps, "ROUND_ROBIN")
                token = api.token
        if args.statements:
            async with in_process_api(env) as local:
                local.token = token
                await timed_statements(local, campaign_id, backend)
    return rows


class TimedStatements(QueryCounter):
    """Statements with the time their log record was emitted (just before each runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def emit(self, record) -> None:
        before = len(self.statements)
        super().emit(record)
        if len(self.statements) > before:
            self.times.append(time.perf_counter())


async def timed_statements(api, campaign_id: str, backend: str) -> None:
    """One more launch, in process, with each statement's time (from its log record to the next
    one's; the last one until the response, so it includes COMMIT and the payload)."""
    import logging

    logger = logging.getLogger("tortoise.db_client")
    counter = TimedStatements()
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(counter)
    try:
        started = time.perf_counter()
        elapsed = await launch(api, campaign_id)
        ended = time.perf_counter()
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate
    say(f"[{backend}] in-process launch of {ASSETS:,} tasks: {elapsed * 1000:.0f} ms, {len(counter.statements)} statements:")
    bounds = [*counter.times, ended]
    for index, statement in enumerate(counter.statements):
        ms = (bounds[index + 1] - bounds[index]) * 1000
        if ms >= 1 or index == len(counter.statements) - 1:
            say(f"    {ms:8.1f} ms  {' '.join(statement.split())[:150]}")
    say(f"    {(counter.times[0] - started) * 1000 if counter.times else 0:8.1f} ms  before the first statement")


async def main(args: argparse.Namespace) -> None:
    results = []
    for backend in await backends_to_run(args.backend, args.postgres_url):
        results += await bench_backend(backend, args)
    if not results:
        say("nothing ran")
        return
    say("")
    say(f"launchCampaign on {ASSETS:,} assets, steps [Annotate (2 assignees), Review (1)], over HTTP")
    say(f"{'backend':<9}{'policy':<14}{'ms':>9}{'tasks/s':>11}{'CPU ms':>8}  load before (1/5/15 min)")
    for r in results:
        say(f"{r['backend']:<9}{r['policy']:<14}{r['seconds'] * 1000:>9.1f}{r['rate']:>11,.0f}{r['cpu'] * 1000:>8.0f}  {r['load']}")
    for backend in sorted({r["backend"] for r in results}):
        rr = [r["rate"] for r in results if r["backend"] == backend and r["policy"] == "ROUND_ROBIN"]
        line = f"{backend:<9}ROUND_ROBIN median {statistics.median(rr):,.0f} tasks/s, best {max(rr):,.0f} tasks/s"
        if backend == "sqlite":
            line += f" (target >= {TARGET_SQLITE:,}: {'met' if statistics.median(rr) >= TARGET_SQLITE else 'MISSED'})"
        say(line)


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
