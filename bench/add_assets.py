"""Benchmark: bulk import with `addAssets`, over real HTTP.

What it measures: the wall-clock time of one `addAssets` call carrying 10,000 assets (every
third one with a pre-existing annotation of 1 to 3 RECTANGLE shapes), sent by httpx to a real
`python -m stepwise serve` (uvicorn, one worker) on 127.0.0.1. The time covers the upload,
GraphQL parsing of the ~1.5 MB of variables, validation, the transactional insert, the read-back
of the new rows and the response (`assets { id }`); the JSON body is encoded before the clock
starts. Each round adds into a new, empty version of the same dataset, so rounds do not interfere
except through the table growing (round N inserts after (N-1) * 10,000 rows).

Each backend gets a fresh database: a temporary SQLite file, or a new PostgreSQL database
created with asyncpg on the server given by --postgres-url and dropped at the end.

Run from the repository root:

    .venv/bin/python bench/add_assets.py                       # both backends, 5 rounds
    .venv/bin/python bench/add_assets.py --backend sqlite --rounds 3

PostgreSQL is skipped, with a note, when it is unreachable. Exits non-zero on any failure or
when the whole run exceeds --timeout seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import (
    BenchError,
    DEFAULT_POSTGRES_URL,
    add_assets,
    add_assets_body,
    backends_to_run,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    make_assets,
    payload,
    process_usage,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=5, help="timed addAssets calls per backend (default 5)")
    parser.add_argument("--assets", type=int, default=10_000, help="assets per call, at most 10,000 (default 10,000)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="an existing database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--timeout", type=float, default=900, help="bound on the whole run, in seconds (default 900)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or not 1 <= args.assets <= 10_000:
        parser.error("--rounds must be >= 1 and --assets between 1 and 10,000")
    return args


async def bench_backend(backend: str, args: argparse.Namespace) -> dict:
    say(f"[{backend}] fresh database, starting the server...")
    assets = make_assets(args.assets)
    shaped = sum(1 for a in assets if "shapes" in a)
    shapes = sum(len(a.get("shapes", ())) for a in assets)
    async with fresh_database(backend, args.postgres_url) as env, running_server(env) as server:
        say(f"[{backend}] server up at {server.base} (pid {server.pid}); signing up a manager, "
            "creating organization and dataset")
        async with http_api(server.base) as api:
            await sign_up_manager(api)
            dataset_id = await create_dataset(api)
            # One untimed warm-up call (imports, prepared statements, caches) into its own version.
            warmup = await create_version(api, dataset_id, "warmup")
            await add_assets(api, warmup, assets[:100])
            say(f"[{backend}] {len(assets)} assets per call ({shaped} with annotations, {shapes} shapes); "
                f"body {len(add_assets_body(warmup, assets)) / 1e6:.2f} MB")
            seconds, server_cpu = [], []
            for round_no in range(1, args.rounds + 1):
                version_id = await create_version(api, dataset_id, f"round-{round_no}")
                body = add_assets_body(version_id, assets)
                before = process_usage(server.pid)
                started = time.perf_counter()
                data = await api.post_raw(body)
                elapsed = time.perf_counter() - started
                used = process_usage(server.pid) - before
                returned = len(payload(data, "addAssets")["assets"])
                if returned != len(assets):
                    raise BenchError(f"addAssets returned {returned} assets for {len(assets)}")
                seconds.append(elapsed)
                server_cpu.append(used.cpu)
                say(f"[{backend}] round {round_no}/{args.rounds}: {elapsed:7.3f} s  {len(assets) / elapsed:8.0f} assets/s"
                    f"  (server CPU {used.cpu:.3f} s, {used.minor_faults} minor page faults)")
    median = statistics.median(seconds)
    say(f"[{backend}] median {median:.3f} s  {len(assets) / median:.0f} assets/s "
        f"(min {min(seconds):.3f} s, max {max(seconds):.3f} s)")
    return {"backend": backend, "seconds": seconds, "median": median, "assets": len(assets),
            "server_cpu": statistics.median(server_cpu)}


async def main(args: argparse.Namespace) -> None:
    results = [await bench_backend(b, args) for b in await backends_to_run(args.backend, args.postgres_url)]
    if not results:
        say("nothing ran")
        return
    say("")
    say(f"addAssets of {results[0]['assets']} assets, {args.rounds} round(s), over HTTP")
    say(f"{'backend':<10}{'median s':>10}{'assets/s':>10}{'min s':>9}{'max s':>9}{'srv CPU s':>11}   rounds (s)")
    for r in results:
        rounds = " ".join(f"{s:.2f}" for s in r["seconds"])
        say(f"{r['backend']:<10}{r['median']:>10.3f}{r['assets'] / r['median']:>10.0f}"
            f"{min(r['seconds']):>9.3f}{max(r['seconds']):>9.3f}{r['server_cpu']:>11.3f}   {rounds}")


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
