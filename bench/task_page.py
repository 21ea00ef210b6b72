"""Benchmark: a page of 100 campaign tasks, at 10,000 and 1,000,000 tasks, at several depths.

Setup (per backend and campaign size, fresh database): a real `python -m stepwise serve` on
127.0.0.1, a manager, an organization, a dataset, three workers (annotator1, annotator2,
reviewer1), a version with 4 labels and N assets inserted by one set-based
`INSERT ... SELECT` (a recursive CTE on SQLite, generate_series on PostgreSQL) through the app's
own database layer (`open_database` + `models.db.sql`; no annotations), then a campaign with
steps [Annotate (annotator1, annotator2), Review (reviewer1)], ROUND_ROBIN, launched normally
with `launchCampaign` over HTTP. Both the insert and the launch are timed and printed, then
`ANALYZE` refreshes the planner statistics. The API must report totalCount = N; two IMAGE
issues are raised on the assets of each measured page so `openIssueCount` has something to
count.

What it measures, for PAGE_QUERY below (100 tasks: id status version step { name }
assignee { username } asset { filename } openIssueCount, plus pageInfo; no totalCount) at three
depths: the first page (no cursor), the middle one (after the N/2-th task) and the last one
(after the (N-100)-th), the cursors being the app's own keyset cursors of those task ids:

1. over HTTP: --requests sequential POSTs per depth (depths interleaved, one keep-alive
   connection, after --warmup) to the running server: p50/p90/p99 and requests/s;
2. in process: the same through httpx.ASGITransport into the app under its real lifespan, on
   the same database, once the server is stopped (no socket, no uvicorn);
3. the SQL statements of one page (in process), as tests/conftest.py QueryCounter counts them;
4. for information, the first page with `totalCount` added (a COUNT over the whole campaign);
5. with --profile, --profile-requests in-process requests of the middle page with the database
   calls clocked (`profiling.db_share`: wall time inside Tortoise's client calls), then as many
   under pyinstrument: the time by library (strawberry, graphql-core, asyncio, Tortoise, driver,
   our code, waiting). pyinstrument's overhead (~2.5x here) inflates call-heavy code: read its
   shares, not its milliseconds.

Every response is checked: 100 edges, the expected first task, hasNextPage. Targets: p50 <=
10 ms in process and <= 15 ms over HTTP, the same at 10,000 and 1,000,000 tasks and at every
depth (keyset pagination).

Run from the repository root:

    .venv/bin/python bench/task_page.py                          # both backends, 10k and 1M
    .venv/bin/python bench/task_page.py --backend sqlite --sizes 10000 --profile

PostgreSQL is skipped, with a note, when it is unreachable. Exits non-zero on any failure or
when the whole run exceeds --timeout seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx
from common import (
    DEFAULT_POSTGRES_URL,
    Api,
    BenchError,
    backends_to_run,
    counting_statements,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    in_process_api,
    own_usage,
    payload,
    percentile,
    process_usage,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)
from workflow_common import (
    analyze,
    campaign_task_ids,
    create_campaign,
    insert_assets_sql,
    launch,
    load_average,
    pk_of,
    setup_team,
    total_tasks,
)

PAGE = 100
NODE = "id status version step { name } assignee { username } asset { filename } openIssueCount"
PAGE_QUERY = f"""query Page($c: ID!, $after: String) {{
  campaign(id: $c) {{
    tasks(first: 100, after: $after) {{
      pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
      edges {{ cursor node {{ {NODE} }} }}
    }}
  }}
}}"""
COUNT_QUERY = PAGE_QUERY.replace("pageInfo {", "totalCount pageInfo {")
ASSET_IDS = """query($c: ID!, $after: String) { campaign(id: $c) { tasks(first: 2, after: $after) {
  edges { node { asset { id } } } } } }"""
CREATE_ISSUE = """mutation($i: CreateIssueInput!) { createIssue(input: $i) { issue { id } errors { code field message } } }"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sizes", default="10000,1000000", help="tasks in the campaign, comma-separated (default 10000,1000000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per depth and variant (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per depth first (default 10)")
    parser.add_argument("--count-requests", type=int, default=20, help="timed requests of the page with totalCount (default 20)")
    parser.add_argument("--profile", action="store_true", help="profile the middle page in process with pyinstrument")
    parser.add_argument("--profile-requests", type=int, default=300)
    parser.add_argument("--profile-dir", type=Path, default=Path("/tmp/stepwise-bench-profiles"))
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="an existing database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of one page")
    parser.add_argument("--timeout", type=float, default=3600, help="bound on the whole run, in seconds (default 3600)")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes takes integers, e.g. 10000,1000000")
    if any(s < 3 * PAGE for s in args.sizes) or args.requests < 1 or args.warmup < 0:
        parser.error("sizes must be >= 300, --requests >= 1, --warmup >= 0")
    return args


def body(query: str, campaign_id: str, after: str | None) -> bytes:
    return json.dumps({"query": query, "variables": {"c": campaign_id, "after": after}}).encode()


def check_page(data: dict, first_task: int, expect_next: bool) -> None:
    tasks = data["campaign"]["tasks"]
    edges = tasks["edges"]
    if len(edges) != PAGE:
        raise BenchError(f"page of {len(edges)} edges, expected {PAGE}")
    if pk_of(edges[0]["node"]["id"]) != first_task:
        raise BenchError(f"page starts at task {pk_of(edges[0]['node']['id'])}, expected {first_task}")
    if tasks["pageInfo"]["hasNextPage"] != expect_next:
        raise BenchError(f"hasNextPage is {tasks['pageInfo']['hasNextPage']}, expected {expect_next}")
    node = edges[0]["node"]
    if node["status"] != "IN_PROGRESS" or node["step"]["name"] != "Annotate" or not node["assignee"]:
        raise BenchError(f"unexpected task: {node!r}")


async def time_pages(api: Api, campaign_id: str, points, requests: int, warmup: int, usage) -> tuple[dict[str, list[float]], float]:
    """Latencies (s) per depth, depths interleaved so background noise hits them alike; and the
    CPU seconds per request that `usage()` grew by (less sensitive to the machine's load)."""
    bodies = [(label, body(PAGE_QUERY, campaign_id, after), first, expect) for label, after, first, expect in points]
    for _ in range(warmup):
        for _label, raw, first, expect in bodies:
            check_page(await api.post_raw(raw), first, expect)
    latencies: dict[str, list[float]] = {label: [] for label, *_ in bodies}
    before = usage()
    for _ in range(requests):
        for label, raw, first, expect in bodies:
            started = time.perf_counter()
            data = await api.post_raw(raw)
            latencies[label].append(time.perf_counter() - started)
            check_page(data, first, expect)
    return latencies, (usage() - before).cpu / (requests * len(bodies))


def summarise(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50) * 1000, "p90": percentile(values, 90) * 1000,
            "p99": percentile(values, 99) * 1000, "n": len(values)}


async def raise_issues(api: Api, campaign_id: str, points) -> None:
    """Two open IMAGE issues on the first assets of each measured page."""
    for _label, after, _first, _expect in points:
        data = await api.data(ASSET_IDS, {"c": campaign_id, "after": after})
        for edge in data["campaign"]["tasks"]["edges"]:
            payload(await api.data(CREATE_ISSUE, {"i": {"assetId": edge["node"]["asset"]["id"], "kind": "IMAGE",
                                                        "body": "Blurred frame."}}), "createIssue")


async def bench_size(backend: str, size: int, args: argparse.Namespace) -> dict:
    from stepwise.schema.pagination import encode_cursor

    tag = f"[{backend} {size:,}]"
    result: dict = {"backend": backend, "size": size, "rows": []}
    say(f"{tag} fresh database, starting the server...")
    async with fresh_database(backend, args.postgres_url) as env:
        url = env["STEPWISE_DATABASE_URL"]
        async with running_server(env) as server, http_api(server.base) as api:
            say(f"{tag} server up at {server.base} (pid {server.pid})")
            await sign_up_manager(api)
            dataset_id = await create_dataset(api)
            team = await setup_team(api, dataset_id, ["annotator1", "annotator2", "reviewer1"])
            version_id = await create_version(api, dataset_id, "v1")
            seconds = await insert_assets_sql(url, pk_of(version_id), size)
            result["insert_s"] = seconds
            say(f"{tag} inserted {size:,} assets with one INSERT ... SELECT in {seconds:.1f} s")
            steps = [("Annotate", "ANNOTATION", [team["annotator1"][1], team["annotator2"][1]]),
                     ("Review", "REVIEW", [team["reviewer1"][1]])]
            campaign_id = await create_campaign(api, version_id, steps, "ROUND_ROBIN")
            async with httpx.AsyncClient(base_url=server.base, timeout=1800) as long_client:
                seconds = await launch(Api(long_client, api.token), campaign_id)
            result["launch_s"] = seconds
            say(f"{tag} launched {size:,} tasks in {seconds:.1f} s ({size / seconds:,.0f} tasks/s)")
            started = time.perf_counter()
            await analyze(url)
            say(f"{tag} ANALYZE in {time.perf_counter() - started:.1f} s")
            total = await total_tasks(api, campaign_id)
            if total != size:
                raise BenchError(f"totalCount {total}, expected {size}")
            middle, last = size // 2, size - PAGE
            firsts = await campaign_task_ids(url, pk_of(campaign_id), [0, middle, last])
            afters = await campaign_task_ids(url, pk_of(campaign_id), [middle - 1, last - 1])
            points = [
                ("first page", None, firsts[0], True),
                (f"middle (after {middle:,})", encode_cursor(afters[0]), firsts[1], True),
                (f"last (after {last:,})", encode_cursor(afters[1]), firsts[2], False),
            ]
            await raise_issues(api, campaign_id, points)
            say(f"{tag} HTTP: {args.warmup} warm-up + {args.requests} timed requests per depth; {load_average()}")
            latencies, cpu = await time_pages(api, campaign_id, points, args.requests, args.warmup,
                                              lambda: process_usage(server.pid))
            result["load_http"] = load_average()
            result["cpu_http"] = cpu * 1000
            say(f"{tag} HTTP: server process CPU {cpu * 1000:.1f} ms per request; {result['load_http']}")
            for label, values in latencies.items():
                s = summarise(values)
                result["rows"].append({"variant": "HTTP", "depth": label, **s})
                say(f"{tag} HTTP       {label:<22} p50 {s['p50']:6.1f} ms  p90 {s['p90']:6.1f} ms  p99 {s['p99']:6.1f} ms")
            token = api.token
        say(f"{tag} server stopped; in process (ASGITransport + LifespanManager) on the same database; {load_average()}")
        async with in_process_api(env) as local:
            local.token = token
            latencies, cpu = await time_pages(local, campaign_id, points, args.requests, args.warmup, own_usage)
            result["load_inproc"] = load_average()
            result["cpu_inproc"] = cpu * 1000
            say(f"{tag} in-process: CPU of this process (client + app) {cpu * 1000:.1f} ms per request; "
                f"{result['load_inproc']}")
            for label, values in latencies.items():
                s = summarise(values)
                result["rows"].append({"variant": "in-process", "depth": label, **s})
                say(f"{tag} in-process {label:<22} p50 {s['p50']:6.1f} ms  p90 {s['p90']:6.1f} ms  p99 {s['p99']:6.1f} ms")
            statements = {}
            for label, after, first, expect in points:
                with counting_statements() as counter:
                    check_page(await local.post_raw(body(PAGE_QUERY, campaign_id, after)), first, expect)
                statements[label] = len(counter.statements)
                if args.show_sql and label == points[0][0]:
                    for sql in counter.statements:
                        say(f"    {sql[:300]}")
            result["statements"] = statements
            say(f"{tag} SQL statements per page: " + ", ".join(f"{k}: {v}" for k, v in statements.items()))
            count_body = body(COUNT_QUERY, campaign_id, None)
            count_latencies = []
            for _ in range(args.count_requests):
                started = time.perf_counter()
                data = await local.post_raw(count_body)
                count_latencies.append(time.perf_counter() - started)
                if data["campaign"]["tasks"]["totalCount"] != size:
                    raise BenchError(f"totalCount {data['campaign']['tasks']['totalCount']}, expected {size}")
            result["count_p50"] = percentile(count_latencies, 50) * 1000
            say(f"{tag} in-process first page + totalCount: p50 {result['count_p50']:.1f} ms (n={len(count_latencies)})")
            if args.profile:
                from profiling import db_share, profiled

                _label, after, first, expect = points[1]
                raw = body(PAGE_QUERY, campaign_id, after)

                async def one_page() -> None:
                    check_page(await local.post_raw(raw), first, expect)

                result["db_share"] = await db_share(f"task_page {backend} {size} middle page in-process",
                                                    args.profile_requests, one_page)
                async with profiled(f"task_page {backend} {size} middle page in-process", args.profile_dir,
                                    args.profile_requests):
                    for _ in range(args.profile_requests):
                        check_page(await local.post_raw(raw), first, expect)
    return result


async def main(args: argparse.Namespace) -> None:
    results = []
    for backend in await backends_to_run(args.backend, args.postgres_url):
        for size in args.sizes:
            results.append(await bench_size(backend, size, args))
    if not results:
        say("nothing ran")
        return
    say("")
    say(f"A page of {PAGE} tasks ({NODE} + pageInfo), {args.requests} sequential requests per depth and variant")
    say(f"{'backend':<9}{'tasks':>10}  {'variant':<11}{'depth':<24}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'SQL':>5}")
    for r in results:
        for row in r["rows"]:
            sql = str(r["statements"][row["depth"]]) if row["variant"] == "in-process" else ""
            say(f"{r['backend']:<9}{r['size']:>10,}  {row['variant']:<11}{row['depth']:<24}{row['p50']:>8.1f}"
                f"{row['p90']:>8.1f}{row['p99']:>8.1f}{sql:>5}")
    for r in results:
        say(f"{r['backend']:<9}{r['size']:>10,}  setup: assets inserted in {r['insert_s']:.1f} s, launched in "
            f"{r['launch_s']:.1f} s ({r['size'] / r['launch_s']:,.0f} tasks/s); first page + totalCount p50 "
            f"{r['count_p50']:.1f} ms in process")
        say(f"{'':<21}CPU per request: server {r['cpu_http']:.1f} ms (HTTP), client + app {r['cpu_inproc']:.1f} ms "
            f"(in-process); {r['load_http']} after HTTP, {r['load_inproc']} after in-process")
    for r in results:
        worst = {v: max(row["p50"] for row in r["rows"] if row["variant"] == v) for v in ("in-process", "HTTP")}
        ok = worst["in-process"] <= 10 and worst["HTTP"] <= 15
        say(f"{r['backend']:<9}{r['size']:>10,}  worst p50: in-process {worst['in-process']:.1f} ms (target 10), "
            f"HTTP {worst['HTTP']:.1f} ms (target 15): {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
