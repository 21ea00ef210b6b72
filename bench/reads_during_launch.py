"""Benchmark: small reads while a launch of 100,000 tasks holds the write transaction.

Setup (per backend, fresh database, not timed): a real `python -m stepwise serve` on 127.0.0.1,
a manager, an organization, a dataset, three workers, a version of 100,000 assets (one
set-based INSERT through the app's database layer) and a DRAFT campaign [Annotate (2
assignees), Review (1)].

What it measures: a second client sends `{ me { id username } }` (authentication plus the
viewer) every 10 ms for 1.5 s; 0.2 s in, the manager launches the campaign (about one second
of write transaction on SQLite). Printed: the launch's time, and the reads' count, p50 and
maximum. On SQLite the launch runs on a connection thread (`sql.bulk_transaction`) and reads
run inline on the other connection, which the launch does not lock (models/db/sqlite_engine.py);
a launch run inline would stop every read for its whole duration. Every answer is checked (the
launch ONGOING, each read the manager).

Run from the repository root:

    .venv/bin/python bench/reads_during_launch.py              # both backends
    .venv/bin/python bench/reads_during_launch.py --backend sqlite

PostgreSQL is skipped, with a note, when it is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import httpx
from common import (
    DEFAULT_POSTGRES_URL,
    BenchError,
    backends_to_run,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    percentile,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)
from workflow_common import create_campaign, insert_assets_sql, pk_of, setup_team

ASSETS = 100_000
READ = {"query": "{ me { id username } }"}
LAUNCH = "mutation($c: ID!) { launchCampaign(input: {campaignId: $c}) { campaign { status } errors { code } } }"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="an existing database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--timeout", type=float, default=900, help="bound on the whole run, in seconds (default 900)")
    return parser.parse_args(argv)


async def reads(base: str, token: str, seconds: float) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            started = time.perf_counter()
            answer = (await client.post("/graphql", json=READ, headers={"authorization": f"Bearer {token}"})).json()
            latencies.append(time.perf_counter() - started)
            if answer.get("data", {}).get("me", {}).get("username") != "manager":
                raise BenchError(f"unexpected read: {answer!r:.300}")
            await asyncio.sleep(0.01)
    return latencies


async def launch_later(base: str, token: str, campaign_id: str) -> float:
    await asyncio.sleep(0.2)
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        started = time.perf_counter()
        answer = (await client.post("/graphql", json={"query": LAUNCH, "variables": {"c": campaign_id}},
                                    headers={"authorization": f"Bearer {token}"})).json()
        elapsed = time.perf_counter() - started
    if answer["data"]["launchCampaign"] != {"campaign": {"status": "ONGOING"}, "errors": []}:
        raise BenchError(f"launch failed: {answer!r:.300}")
    return elapsed


async def bench(backend: str, postgres_url: str) -> None:
    async with fresh_database(backend, postgres_url) as env, running_server(env) as server, http_api(server.base) as api:
        await sign_up_manager(api)
        dataset_id = await create_dataset(api)
        team = await setup_team(api, dataset_id, ["annotator1", "annotator2", "reviewer1"])
        version_id = await create_version(api, dataset_id, "v1")
        await insert_assets_sql(env["STEPWISE_DATABASE_URL"], pk_of(version_id), ASSETS)
        steps = [("Annotate", "ANNOTATION", [team["annotator1"][1], team["annotator2"][1]]),
                 ("Review", "REVIEW", [team["reviewer1"][1]])]
        campaign_id = await create_campaign(api, version_id, steps, "ROUND_ROBIN")
        say(f"[{backend}] {ASSETS:,} assets and a DRAFT campaign ready; reading every 10 ms while launching")
        latencies, launch_seconds = await asyncio.gather(reads(server.base, api.token, 1.5),
                                                         launch_later(server.base, api.token, campaign_id))
        say(f"[{backend}] launch {launch_seconds * 1000:.0f} ms; reads meanwhile: n={len(latencies)}, "
            f"p50 {percentile(latencies, 50) * 1000:.1f} ms, max {max(latencies) * 1000:.0f} ms")


async def main(args: argparse.Namespace) -> None:
    for backend in await backends_to_run(args.backend, args.postgres_url):
        await bench(backend, args.postgres_url)


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
