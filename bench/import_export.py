"""Benchmark: importAnnotations (COCO) and the streamed COCO export, over real HTTP.

Setup (per backend, fresh database, not timed): a real `python -m stepwise serve` on 127.0.0.1
(uvicorn, one worker, STEPWISE_MAX_UPLOAD_MB=200 since the file is ~40 MB), a manager, a dataset
and three workers. The COCO files are made before the clock starts: 1920x1080 images, three
boxes each with random labels of the version's four.

What it measures, per round:
1. COCO import: one multipart `importAnnotations` of 100,000 images / 300,000 boxes into a new
   version (everything validated, one transaction); wall clock of the request, as assets/s, with
   the server's CPU time.
2. Import + launch end to end: a DRAFT campaign [Annotate (2 assignees), Review (1)] on a new
   version, then `importAnnotations` of 10,000 images / 30,000 boxes and `launchCampaign`; the
   two requests' wall clock together, as tasks/s (every image is annotated, so with the default
   strategy each task starts at Annotate).
3. COCO export (after the imports, on a fresh server process on the same database, so that the
   memory an import leaves with the allocator hides nothing): GET the exportUrl of each
   100,000-asset version, read as a stream; wall clock to
   the last byte as assets/s, and the server's resident memory sampled every 5 ms during the
   download: its peak minus its value just before (the "memory flat" figure). The downloaded
   file is parsed afterwards and must hold 100,000 images and 300,000 annotations.

Targets: import >= 50,000 assets/s (SQLite), >= 40,000 (PostgreSQL); import 10,000 + launch
>= 40,000 / 30,000 tasks/s; export >= 100,000 assets/s with flat memory.

Run from the repository root:

    .venv/bin/python bench/import_export.py                     # both backends, 3 rounds
    .venv/bin/python bench/import_export.py --backend sqlite --rounds 1
    .venv/bin/python bench/import_export.py --only export --rounds 1 --repeat 3 --against /tmp/base-path

`--only export` skips the timed import + launch (the big import stays: it is what is exported);
`--against DIR` runs every export twice on a fresh server, first with PYTHONPATH=DIR (a directory
holding a `stepwise` link to another build, e.g. an unpacked copy of main), then with this build:
an interleaved A/B on the same data in the same minutes; `--repeat N` exports each version N times.

PostgreSQL is skipped, with a note, when it is unreachable. Exits non-zero on any failure or
when the whole run exceeds --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

from common import (
    DEFAULT_POSTGRES_URL,
    LABELS,
    BenchError,
    backends_to_run,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    payload,
    process_usage,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)
from workflow_common import LAUNCH, create_campaign, load_average, setup_team, total_tasks

IMPORT = """mutation($i: ImportAnnotationsInput!) { importAnnotations(input: $i) {
  assetsAdded shapesAdded errors { code field message } } }"""
EXPORT_URL = "query($v: ID!) { datasetVersion(id: $v) { exportUrl(format: COCO) } }"
BIG, SMALL, BOXES = 100_000, 10_000, 3
TARGETS = {"import": {"sqlite": 50_000, "postgres": 40_000}, "launch": {"sqlite": 40_000, "postgres": 30_000},
           "export": {"sqlite": 100_000, "postgres": 100_000}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per backend (default 3)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="an existing database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--timeout", type=float, default=1800, help="bound on the whole run, in seconds (default 1800)")
    parser.add_argument("--only", choices=["all", "export"], default="all",
                        help="export: skip the timed import + launch (the big import stays: it makes what is exported)")
    parser.add_argument("--against", metavar="PYTHONPATH", default=None,
                        help="A/B the export: a PYTHONPATH whose `stepwise` is another build (e.g. main's); each version"
                             " is exported by that build's server then this one's, alternately, on the same database")
    parser.add_argument("--repeat", type=int, default=1, help="exports of each version (per build with --against)")
    return parser.parse_args(argv)


def coco_file(images: int, seed: int) -> bytes:
    rng = random.Random(seed)
    width, height = 1920, 1080
    annotations, next_id = [], 1
    for image in range(1, images + 1):
        for _ in range(BOXES):
            x, y = round(rng.uniform(0, width / 2), 2), round(rng.uniform(0, height / 2), 2)
            w, h = round(rng.uniform(1, width / 2 - 1), 2), round(rng.uniform(1, height / 2 - 1), 2)
            annotations.append({"id": next_id, "image_id": image, "category_id": rng.randint(1, len(LABELS)),
                                "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0, "segmentation": []})
            next_id += 1
    document = {"images": [{"id": i, "file_name": f"frames/{i:06d}.jpg", "width": width, "height": height}
                           for i in range(1, images + 1)],
                "categories": [{"id": k, "name": name} for k, name in enumerate(LABELS, 1)],
                "annotations": annotations}
    return json.dumps(document, separators=(",", ":")).encode()


async def import_coco(api, version_id: str, content: bytes) -> float:
    """Seconds the multipart importAnnotations request took."""
    operations = json.dumps({"query": IMPORT, "variables": {"i": {"datasetVersionId": version_id, "format": "COCO", "file": None}}})
    started = time.perf_counter()
    response = await api.client.post(
        "/graphql", data={"operations": operations, "map": json.dumps({"0": ["variables.i.file"]})},
        files={"0": ("coco.json", content, "application/json")}, headers={"authorization": f"Bearer {api.token}"})
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or response.json().get("errors"):
        raise BenchError(f"import: HTTP {response.status_code} {response.text[:500]}")
    result = payload(response.json()["data"], "importAnnotations")
    return elapsed, result


def server_phases(env: dict[str, str]) -> str:
    """The server's own account of its last import (read and checked, then written)."""
    lines = [line for line in (Path(env["STEPWISE_DATA_DIR"]) / "server.log").read_text().splitlines() if "import into" in line]
    return lines[-1].split(": ", 2)[-1] if lines else "(no log line)"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError("no VmRSS")


async def export_coco(api, pid: int, version_id: str) -> tuple[float, int, int]:
    """(seconds, bytes, peak RSS growth in KB) of a streamed export."""
    url = (await api.data(EXPORT_URL, {"v": version_id}))["datasetVersion"]["exportUrl"]
    before = rss_kb(pid)
    peak = before
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kb(pid))
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    chunks = []
    started = time.perf_counter()
    async with api.client.stream("GET", url, headers={"authorization": f"Bearer {api.token}"}) as response:
        if response.status_code != 200:
            raise BenchError(f"export: HTTP {response.status_code}")
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
    elapsed = time.perf_counter() - started
    done.set()
    await sampler
    body = b"".join(chunks)
    document = json.loads(body)
    if len(document["images"]) != BIG or len(document["annotations"]) != BIG * BOXES:
        raise BenchError(f"export holds {len(document['images'])} images, {len(document['annotations'])} annotations")
    return elapsed, len(body), peak - before


async def timed_export(api, server, backend: str, label: str, number: int, version_id: str) -> dict:
    await asyncio.sleep(1)  # the RSS before, settled
    load = load_average()
    before = process_usage(server.pid)
    seconds, size, growth = await export_coco(api, server.pid, version_id)
    cpu = (process_usage(server.pid) - before).cpu
    say(f"[{backend}] {label} {number}: COCO export of {BIG:,} assets ({size / 1e6:.1f} MB) in "
        f"{seconds * 1000:.0f} ms = {BIG / seconds:,.0f} assets/s, server RSS +{growth / 1024:.1f} MB at peak "
        f"(server CPU {cpu * 1000:.0f} ms; {load} before)")
    return {"backend": backend, "figure": label, "seconds": seconds, "rate": BIG / seconds, "cpu": cpu, "growth": growth}


async def bench_backend(backend: str, args: argparse.Namespace, big: bytes, small: bytes) -> list[dict]:
    rows = []
    say(f"[{backend}] fresh database, starting the server...")
    async with fresh_database(backend, args.postgres_url) as env:
        env = {**env, "STEPWISE_MAX_UPLOAD_MB": "200"}
        async with running_server(env) as server, http_api(server.base) as api:
            await sign_up_manager(api)
            dataset_id = await create_dataset(api)
            team = await setup_team(api, dataset_id, ["annotator1", "annotator2", "reviewer1"])
            steps = [("Annotate", "ANNOTATION", [team["annotator1"][1], team["annotator2"][1]]),
                     ("Review", "REVIEW", [team["reviewer1"][1]])]
            big_versions: list[str] = []
            for round_number in range(1, args.rounds + 1):
                load = load_average()
                version_id = await create_version(api, dataset_id, f"big{round_number}")
                before = process_usage(server.pid)
                seconds, result = await import_coco(api, version_id, big)
                cpu = (process_usage(server.pid) - before).cpu
                if (result["assetsAdded"], result["shapesAdded"]) != (BIG, BIG * BOXES):
                    raise BenchError(f"import added {result}")
                say(f"[{backend}] round {round_number}: COCO import {BIG:,} images / {BIG * BOXES:,} boxes in "
                    f"{seconds * 1000:.0f} ms = {BIG / seconds:,.0f} assets/s (server CPU {cpu * 1000:.0f} ms; {load} before)")
                rows.append({"backend": backend, "figure": "import", "seconds": seconds, "rate": BIG / seconds, "cpu": cpu})
                say(f"[{backend}]   server: {server_phases(env)}")

                big_versions.append(version_id)
                if args.only == "export":
                    continue
                small_version = await create_version(api, dataset_id, f"small{round_number}")
                campaign_id = await create_campaign(api, small_version, steps, "ROUND_ROBIN")
                launch_body = json.dumps({"query": LAUNCH, "variables": {"c": campaign_id}}).encode()
                before = process_usage(server.pid)
                started = time.perf_counter()
                await import_coco(api, small_version, small)
                status = payload(await api.post_raw(launch_body), "launchCampaign")["campaign"]["status"]
                seconds = time.perf_counter() - started
                cpu = (process_usage(server.pid) - before).cpu
                if status != "ONGOING" or await total_tasks(api, campaign_id) != SMALL:
                    raise BenchError(f"after import + launch: {status}, {await total_tasks(api, campaign_id)} tasks")
                say(f"[{backend}] round {round_number}: import {SMALL:,} + launch in {seconds * 1000:.0f} ms = "
                    f"{SMALL / seconds:,.0f} tasks/s (server CPU {cpu * 1000:.0f} ms)")
                rows.append({"backend": backend, "figure": "launch", "seconds": seconds, "rate": SMALL / seconds, "cpu": cpu})
            token = api.token
        # Exports on a fresh server process: after a big import the allocator keeps its memory,
        # which would hide any growth. With --against, a fresh process for every export, the other
        # build's and this one's alternately on each version.
        if args.against:
            builds = [("base", {**env, "PYTHONPATH": args.against}), ("new", env)]
            for number, (version_id, (label, build_env)) in enumerate(
                    ((v, b) for v in big_versions for _ in range(args.repeat) for b in builds), 1):
                async with running_server(build_env) as server, http_api(server.base) as api:
                    api.token = token
                    rows.append(await timed_export(api, server, backend, label, number, version_id))
        else:
            async with running_server(env) as server, http_api(server.base) as api:
                api.token = token
                for number, version_id in enumerate((v for v in big_versions for _ in range(args.repeat)), 1):
                    rows.append(await timed_export(api, server, backend, "export", number, version_id))
    return rows


async def main(args: argparse.Namespace) -> None:
    say("making the COCO files...")
    big, small = coco_file(BIG, 1), coco_file(SMALL, 2)
    say(f"COCO files: {len(big) / 1e6:.1f} MB ({BIG:,} images), {len(small) / 1e6:.1f} MB ({SMALL:,} images)")
    results = []
    for backend in await backends_to_run(args.backend, args.postgres_url):
        results += await bench_backend(backend, args, big, small)
    say("")
    units = {"import": "assets/s", "launch": "tasks/s", "export": "assets/s", "base": "assets/s", "new": "assets/s"}
    for backend in sorted({r["backend"] for r in results}):
        for figure in ("import", "launch", "export", "base", "new"):
            rows = [r for r in results if r["backend"] == backend and r["figure"] == figure]
            if not rows:
                continue
            median = statistics.median(r["rate"] for r in rows)
            target = TARGETS["export" if figure in ("base", "new") else figure][backend]
            extra = ""
            if figure in ("export", "base", "new"):
                extra += f", server CPU median {statistics.median(r['cpu'] for r in rows) * 1000:.0f} ms"
                extra += f", peak RSS growth median {statistics.median(r['growth'] for r in rows) / 1024:.1f} MB"
            say(f"{backend:<9}{figure:<7} median {median:>9,.0f} {units[figure]} (best {max(r['rate'] for r in rows):,.0f};"
                f" target >= {target:,}: {'met' if median >= target else 'MISSED'}){extra}")


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
