"""Benchmark: reading a page of 100 assets, with their annotations, at several cursor depths.

Setup (per backend, fresh database): a real `python -m stepwise serve` on 127.0.0.1, a manager,
an organization, a dataset, a version with 4 labels and 10,000 assets added in one `addAssets`
(every third asset with 1 to 3 RECTANGLE shapes). The whole list is then walked once, page by
page, to collect the `endCursor`s, and checked (10,000 distinct assets, totalCount 10,000).

What it measures, for the query PAGE_QUERY below (100 assets: filename width height
annotation { updatedAt shapes { kind area label { name } points { x y } } }, plus totalCount
and pageInfo) at three depths: the first page (no cursor), a page in the middle (after the
5,000th asset) and the last page (after the 9,900th):

1. over HTTP: --requests sequential POSTs per depth (depths interleaved, one keep-alive
   connection, after a warm-up) to the running server: p50/p90/p99 latency and requests/s;
2. in process: the same requests through httpx.ASGITransport into the app under its real
   lifespan (asgi_lifespan.LifespanManager, as tests/conftest.py `_app_api`) on the same
   database, once the server is stopped: no socket, no uvicorn; the difference with (1) is
   the HTTP overhead;
3. the SQL statements one page costs (in process), counted as tests/conftest.py QueryCounter
   does: records of logger "tortoise.db_client" whose msg == "%s: %s";
4. CPU time and minor page faults per request: of the server process (HTTP variant, from
   /proc), and of this process, client included (in-process variant, from getrusage).

Keyset pagination should make the three depths cost the same.

Run from the repository root:

    .venv/bin/python bench/asset_page.py                      # both backends, 200 requests per depth
    .venv/bin/python bench/asset_page.py --backend postgres --requests 500

PostgreSQL is skipped, with a note, when it is unreachable. Exits non-zero on any failure or
when the whole run exceeds --timeout seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from common import (
    DEFAULT_POSTGRES_URL,
    Api,
    Usage,
    BenchError,
    add_assets,
    backends_to_run,
    counting_statements,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    in_process_api,
    make_assets,
    own_usage,
    percentile,
    process_usage,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)

ASSETS = 10_000
PAGE = 100
PAGE_QUERY = """query Page($id: ID!, $after: String) {
  datasetVersion(id: $id) {
    assets(first: 100, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges {
        cursor
        node {
          id filename width height
          annotation { updatedAt shapes { kind area label { name } points { x y } } }
        }
      }
    }
  }
}"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per depth and variant (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per depth first (default 10)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="an existing database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of one page")
    parser.add_argument("--timeout", type=float, default=1200, help="bound on the whole run, in seconds (default 1200)")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be >= 1 and --warmup >= 0")
    return args


def page_body(version_id: str, after: str | None) -> bytes:
    return json.dumps({"query": PAGE_QUERY, "variables": {"id": version_id, "after": after}}).encode()


def check_page(data: dict, expect_next: bool | None = None) -> dict:
    assets = data["datasetVersion"]["assets"]
    if assets["totalCount"] != ASSETS or len(assets["edges"]) != PAGE:
        raise BenchError(f"unexpected page: totalCount {assets['totalCount']}, {len(assets['edges'])} edges")
    if expect_next is not None and assets["pageInfo"]["hasNextPage"] != expect_next:
        raise BenchError(f"hasNextPage is {assets['pageInfo']['hasNextPage']}, expected {expect_next}")
    return assets


async def walk(api: Api, version_id: str, backend: str) -> list[str | None]:
    """Every page's `after` (None, then each endCursor), checking the list is whole and unique."""
    afters: list[str | None] = [None]
    seen: set[str] = set()
    shapes = 0
    started = time.perf_counter()
    while True:
        assets = check_page(await api.post_raw(page_body(version_id, afters[-1])))
        for edge in assets["edges"]:
            seen.add(edge["node"]["id"])
            shapes += len((edge["node"]["annotation"] or {}).get("shapes", ()))
        if not assets["pageInfo"]["hasNextPage"]:
            break
        afters.append(assets["pageInfo"]["endCursor"])
        if len(afters) > ASSETS // PAGE:
            raise BenchError("the walk does not end")
    elapsed = time.perf_counter() - started
    if len(seen) != ASSETS or len(afters) != ASSETS // PAGE:
        raise BenchError(f"walked {len(afters)} pages and {len(seen)} distinct assets, expected {ASSETS // PAGE} and {ASSETS}")
    say(f"[{backend}] walked all {len(afters)} pages over HTTP in {elapsed:.2f} s "
        f"({elapsed / len(afters) * 1000:.1f} ms/page); {len(seen)} assets, {shapes} shapes")
    return afters


def depths(afters: list[str | None]) -> list[tuple[str, str | None, bool]]:
    """(label, after, hasNextPage expected) for the first, a middle and the last page."""
    middle = len(afters) // 2
    return [
        ("page 1 (first)", afters[0], True),
        (f"page {middle + 1} (after {middle * PAGE})", afters[middle], True),
        (f"page {len(afters)} (last)", afters[-1], False),
    ]


async def time_pages(api: Api, version_id: str, points, requests: int, warmup: int, usage) -> tuple[dict[str, list[float]], Usage]:
    """Latencies (seconds) per depth, depths interleaved so background noise hits them alike;
    and what `usage()` (CPU, page faults) grew by over the timed requests."""
    bodies = [(label, page_body(version_id, after), expect) for label, after, expect in points]
    for _ in range(warmup):
        for _label, body, expect in bodies:
            check_page(await api.post_raw(body), expect)
    latencies: dict[str, list[float]] = {label: [] for label, _, _ in bodies}
    before = usage()
    for _ in range(requests):
        for label, body, expect in bodies:
            started = time.perf_counter()
            data = await api.post_raw(body)
            latencies[label].append(time.perf_counter() - started)
            check_page(data, expect)
    return latencies, usage() - before


def report_usage(backend: str, variant: str, used: Usage, count: int, whose: str) -> dict[str, float]:
    cpu_ms, faults = used.cpu / count * 1000, used.minor_faults / count
    say(f"[{backend}] {variant:<10} {whose} CPU {cpu_ms:.1f} ms and {faults:.0f} minor page faults per request")
    return {"cpu_ms": cpu_ms, "faults": faults}


def summarise(latencies: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(latencies, 50) * 1000,
        "p90": percentile(latencies, 90) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "rps": len(latencies) / sum(latencies),
    }


def report(backend: str, variant: str, latencies: dict[str, list[float]]) -> list[dict]:
    rows = []
    for label, values in latencies.items():
        s = summarise(values)
        say(f"[{backend}] {variant:<10} {label:<24} p50 {s['p50']:6.1f} ms  p90 {s['p90']:6.1f} ms  "
            f"p99 {s['p99']:6.1f} ms  {s['rps']:6.1f} req/s  (n={len(values)})")
        rows.append({"backend": backend, "variant": variant, "depth": label, **s})
    return rows


async def bench_backend(backend: str, args: argparse.Namespace) -> tuple[list[dict], dict[str, int]]:
    rows: list[dict] = []
    say(f"[{backend}] fresh database, starting the server...")
    async with fresh_database(backend, args.postgres_url) as env:
        async with running_server(env) as server, http_api(server.base) as api:
            say(f"[{backend}] server up at {server.base} (pid {server.pid}); creating a version with {ASSETS} assets")
            await sign_up_manager(api)
            version_id = await create_version(api, await create_dataset(api), "v1")
            started = time.perf_counter()
            await add_assets(api, version_id, make_assets(ASSETS))
            say(f"[{backend}] added {ASSETS} assets in {time.perf_counter() - started:.2f} s")
            points = depths(await walk(api, version_id, backend))
            say(f"[{backend}] HTTP: {args.warmup} warm-up + {args.requests} timed requests per depth...")
            latencies, used = await time_pages(api, version_id, points, args.requests, args.warmup,
                                               lambda: process_usage(server.pid))
            rows += report(backend, "HTTP", latencies)
            usage = {"HTTP": report_usage(backend, "HTTP", used, args.requests * len(points), "server process")}
            token = api.token
        say(f"[{backend}] server stopped; in process (ASGITransport + LifespanManager) on the same database...")
        async with in_process_api(env) as local:
            local.token = token
            latencies, used = await time_pages(local, version_id, points, args.requests, args.warmup, own_usage)
            rows += report(backend, "in-process", latencies)
            usage["in-process"] = report_usage(backend, "in-process", used, args.requests * len(points),
                                               "this process (client + app)")
            statements: dict[str, int] = {}
            for label, after, expect in points:
                with counting_statements() as counter:
                    check_page(await local.post_raw(page_body(version_id, after)), expect)
                statements[label] = len(counter.statements)
                if args.show_sql:
                    for sql in counter.statements:
                        say(f"    {sql[:200]}")
            say(f"[{backend}] SQL statements per page: "
                + ", ".join(f"{label}: {n}" for label, n in statements.items()))
    return rows, statements, usage


async def main(args: argparse.Namespace) -> None:
    results = []
    for backend in await backends_to_run(args.backend, args.postgres_url):
        results.append((backend, *(await bench_backend(backend, args))))
    if not results:
        say("nothing ran")
        return
    say("")
    say(f"A page of {PAGE} assets with annotations, {args.requests} sequential requests per depth and variant")
    say(f"{'backend':<9}{'variant':<11}{'depth':<25}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'req/s':>8}{'SQL':>5}")
    for backend, rows, statements, usage in results:
        for r in rows:
            sql = str(statements[r["depth"]]) if r["variant"] == "in-process" else ""
            say(f"{backend:<9}{r['variant']:<11}{r['depth']:<25}{r['p50']:>8.1f}{r['p90']:>8.1f}{r['p99']:>8.1f}"
                f"{r['rps']:>8.1f}{sql:>5}")
        by = {(r["variant"], r["depth"]): r["p50"] for r in rows}
        overhead = [by[("HTTP", d)] - by[("in-process", d)] for v, d in by if v == "HTTP"]
        say(f"{backend:<9}HTTP overhead (p50 HTTP - p50 in-process): "
            + ", ".join(f"{o:+.1f} ms" for o in overhead))
        say(f"{backend:<9}per request: server process CPU {usage['HTTP']['cpu_ms']:.1f} ms, "
            f"{usage['HTTP']['faults']:.0f} minor faults (HTTP); client+app CPU {usage['in-process']['cpu_ms']:.1f} ms, "
            f"{usage['in-process']['faults']:.0f} minor faults (in-process)")


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
