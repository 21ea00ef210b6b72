"""Benchmark: `uploadInstructions` of PDFs up to 20 MB over real HTTP, and the server's memory.

Setup (per backend, fresh database, not timed): a real `python -m stepwise serve` on 127.0.0.1
(uvicorn, one worker, default limits: STEPWISE_MAX_UPLOAD_MB=20, STEPWISE_MAX_REQUEST_MB=10),
a manager, an organization, a dataset, a version and a DRAFT campaign; PDFs of each --sizes
(MiB; a `%PDF-1.4` header, then random bytes) written to a temporary file.

What it measures, per size and round: the wall-clock time of one multipart request
(`operations`, `map`, the file streamed by httpx from disk), and the server's peak RSS growth
over it: VmHWM minus VmRSS just before (from /proc/<pid>/status; the peak is reset before each
upload by writing 5 to /proc/<pid>/clear_refs when the kernel allows it, else the growth of
VmHWM). Flat memory means the growth does not follow the file's size. Each upload replaces the
previous instructions; the download of the last one must give the same bytes back.

Target: a 20 MB upload streams with flat memory (peak growth well under the file's size).

Run from the repository root:

    .venv/bin/python bench/upload_instructions.py                    # both backends, 1, 5 and 20 MiB
    .venv/bin/python bench/upload_instructions.py --backend sqlite --rounds 5

PostgreSQL is skipped, with a note, when it is unreachable. Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
from common import (
    DEFAULT_POSTGRES_URL,
    BenchError,
    backends_to_run,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    payload,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)

MIB = 1024 * 1024
CREATE_CAMPAIGN = "mutation($v: ID!) { createCampaign(input: {datasetVersionId: $v}) { campaign { id } errors { code } } }"
UPLOAD = """mutation($i: UploadInstructionsInput!) { uploadInstructions(input: $i) {
  campaign { instructions { size url } } errors { code message } } }"""


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> bool:
    """Sets VmHWM back to the current RSS (Linux >= 4.0, same user); False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def write_pdf(directory: Path, size: int) -> Path:
    path = directory / f"guide-{size // MIB}mib.pdf"
    with open(path, "wb") as out:
        out.write(b"%PDF-1.4\n")
        remaining = size - 9
        while remaining > 0:
            block = min(remaining, MIB)
            out.write(os.urandom(block))
            remaining -= block
    return path


async def upload(client: httpx.AsyncClient, token: str, campaign: str, path: Path) -> dict:
    operations = json.dumps({"query": UPLOAD, "variables": {"i": {"campaignId": campaign, "file": None}}})
    with open(path, "rb") as file:
        response = await client.post(
            "/graphql", data={"operations": operations, "map": json.dumps({"0": ["variables.i.file"]})},
            files={"0": (path.name, file, "application/pdf")}, headers={"authorization": f"Bearer {token}"},
        )
    if response.status_code != 200:
        raise BenchError(f"upload: HTTP {response.status_code}: {response.text[:300]}")
    return payload(response.json()["data"], "uploadInstructions")


async def run_backend(backend: str, args) -> None:
    async with fresh_database(backend, args.postgres_url) as env:
        pdfs = [write_pdf(Path(env["STEPWISE_DATA_DIR"]), int(size * MIB)) for size in args.sizes]
        async with running_server(env) as server, http_api(server.base) as api:
            token = await sign_up_manager(api)
            version = await create_version(api, await create_dataset(api), "v1")
            campaign = payload(await api.data(CREATE_CAMPAIGN, {"v": version}), "createCampaign")["campaign"]["id"]
            async with httpx.AsyncClient(base_url=server.base, timeout=120) as client:
                await upload(client, token, campaign, pdfs[0])  # warm-up: imports, first connections
                resettable = reset_peak(server.pid)
                say(f"[{backend}] server pid {server.pid}, RSS {memory_kib(server.pid)['VmRSS'] / 1024:.1f} MiB, "
                    f"peak reset {'per upload' if resettable else 'not allowed: growth of VmHWM'}")
                for path in pdfs:
                    seconds, growth = [], []
                    for _ in range(args.rounds):
                        reset_peak(server.pid)
                        before = memory_kib(server.pid)
                        started = time.perf_counter()
                        result = await upload(client, token, campaign, path)
                        seconds.append(time.perf_counter() - started)
                        after = memory_kib(server.pid)
                        base = before["VmRSS"] if resettable else before["VmHWM"]
                        growth.append(max(0, after["VmHWM"] - base) / 1024)
                    size = path.stat().st_size
                    if result["campaign"]["instructions"]["size"] != size:
                        raise BenchError(f"stored size {result['campaign']['instructions']['size']} != {size}")
                    say(f"[{backend}] {size / MIB:5.1f} MiB: upload median {statistics.median(seconds) * 1000:7.1f} ms "
                        f"({size / MIB / statistics.median(seconds):6.1f} MiB/s), peak RSS growth "
                        f"max {max(growth):5.1f} MiB, median {statistics.median(growth):5.1f} MiB over {args.rounds} uploads")
                url = result["campaign"]["instructions"]["url"]
                started = time.perf_counter()
                downloaded = await client.get(url, headers={"authorization": f"Bearer {token}"})
                took = time.perf_counter() - started
                if downloaded.status_code != 200 or downloaded.content != pdfs[-1].read_bytes():
                    raise BenchError(f"download of {url} did not give the file back ({downloaded.status_code})")
                say(f"[{backend}] download of {len(downloaded.content) / MIB:.1f} MiB: {took * 1000:.1f} ms; "
                    f"server RSS now {memory_kib(server.pid)['VmRSS'] / 1024:.1f} MiB")


async def main(args) -> None:
    for backend in await backends_to_run(args.backend, args.postgres_url):
        await run_backend(backend, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 5, 20], help="PDF sizes in MiB (at most 20)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    arguments = parser.parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
