"""Shared helpers for the benchmarks in this folder (not a test module, not part of the package).

- `databases(...)`: a fresh SQLite file or a fresh PostgreSQL database (dropped afterwards);
- `running_server(...)`: `python -m stepwise serve` in a subprocess on 127.0.0.1;
- `in_process_api(...)`: the same app through httpx.ASGITransport and its real lifespan;
- `Api`: a small GraphQL client that fails loudly on any error;
- `setup_version(...)` / `make_assets(...)`: a manager, an organization, a dataset, versions, assets;
- `QueryCounter` / `counting_statements()`: SQL statements as Tortoise's db client logs them;
- `process_usage(pid)` / `own_usage()`: CPU seconds and minor page faults of a process;
- `percentile(...)`, `fmt_ms(...)`: figures.

Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent  # the repository root is the `stepwise` package
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
LABELS = ["car", "person", "bicycle", "truck"]
SERVER_START_SECONDS = 60
REQUEST_TIMEOUT_SECONDS = 120


class BenchError(RuntimeError):
    """A benchmark could not run as intended (the script exits non-zero)."""


def say(message: str) -> None:
    """A progress line, flushed at once (so piping to `tee` shows it live)."""
    print(message, flush=True)


# --- databases -------------------------------------------------------------------------------

def require_local(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOCAL_HOSTS:
        raise BenchError(f"refusing a non-local database host {host!r}: benchmarks talk to 127.0.0.1 only")


def _asyncpg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def postgres_reachable(base_url: str) -> str | None:
    """None when PostgreSQL answers at base_url, else why not (one line)."""
    import asyncpg

    try:
        conn = await asyncpg.connect(_asyncpg_url(base_url), timeout=5)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as error:
        return f"{type(error).__name__}: {error}"
    await conn.close()
    return None


async def _pg_admin(base_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_url(base_url), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_database(backend: str, postgres_url: str) -> AsyncIterator[dict[str, str]]:
    """The STEPWISE_* environment of an empty database of `backend`; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="stepwise-bench-") as tmp:
        if backend == "sqlite":
            yield {"STEPWISE_DATABASE_URL": f"sqlite://{Path(tmp) / 'stepwise.sqlite3'}", "STEPWISE_DATA_DIR": tmp}
            return
        require_local(postgres_url)
        name = f"stepwise_bench_{uuid.uuid4().hex[:12]}"
        await _pg_admin(postgres_url, f'CREATE DATABASE "{name}"')
        try:
            yield {"STEPWISE_DATABASE_URL": postgres_url.rsplit("/", 1)[0] + "/" + name, "STEPWISE_DATA_DIR": tmp}
        finally:
            await _pg_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def backends_to_run(choice: str, postgres_url: str) -> list[str]:
    """The backends asked for, minus PostgreSQL (with a printed note) when it is unreachable."""
    wanted = ["sqlite", "postgres"] if choice == "both" else [choice]
    if "postgres" in wanted:
        require_local(postgres_url)
        why = await postgres_reachable(postgres_url)
        if why is not None:
            say(f"NOTE: PostgreSQL at {postgres_url} is unreachable ({why}); skipping the postgres backend.")
            wanted.remove("postgres")
    return wanted


# --- the server --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    base: str
    pid: int


@dataclass
class Usage:
    """CPU seconds (user + system, all threads) and minor page faults of a process."""

    cpu: float
    minor_faults: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.cpu - other.cpu, self.minor_faults - other.minor_faults)


def process_usage(pid: int) -> Usage:
    """From /proc/PID/stat: fields 10 (minflt), 14 (utime) and 15 (stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return Usage((int(fields[11]) + int(fields[12])) / ticks, int(fields[7]))


def own_usage() -> Usage:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return Usage(usage.ru_utime + usage.ru_stime, usage.ru_minflt)


@asynccontextmanager
async def running_server(env: dict[str, str], extra_args: tuple[str, ...] = ()) -> AsyncIterator[Server]:
    """`python -m stepwise serve` (migrations, then uvicorn, one worker) on a free port of
    127.0.0.1; yields its base URL and pid. Its output goes to server.log in the data dir (a
    pipe nobody reads would fill up with access-log lines and stall the server). `extra_args` go
    to `serve` (e.g. ("--workers", "2"); the pid is then uvicorn's supervisor)."""
    port = free_port()
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")}, **env}
    log_path = Path(env["STEPWISE_DATA_DIR"]) / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "stepwise", "serve", "--host", "127.0.0.1", "--port", str(port), *extra_args],
            env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if process.poll() is not None:
                    raise BenchError(f"server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    if (await client.get(f"{base}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise BenchError(f"server not healthy within {SERVER_START_SECONDS} s:\n{log_path.read_text()[-3000:]}")
                await asyncio.sleep(0.1)
        yield Server(base, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@asynccontextmanager
async def in_process_api(env: dict[str, str]) -> AsyncIterator[Api]:
    """The app in this process through its real lifespan (as tests/conftest.py `_app_api`): no
    sockets, no uvicorn, no HTTP parsing; the database must already be migrated."""
    from asgi_lifespan import LifespanManager
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    from stepwise.app import create_app
    from stepwise.config import load_settings

    # create_app() calls logging.basicConfig(INFO): keep httpx's per-request INFO line quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    # Tortoise caches compiled INSERTs per connection *name*; this process may switch backends.
    EXECUTOR_CACHE.clear()
    app = create_app(load_settings(env))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=REQUEST_TIMEOUT_SECONDS) as client:
            yield Api(client)


@asynccontextmanager
async def http_api(base_url: str) -> AsyncIterator[Api]:
    """One keep-alive connection to a running server."""
    require_local(base_url)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits) as client:
        yield Api(client)


# --- GraphQL -----------------------------------------------------------------------------------

@dataclass
class Api:
    client: httpx.AsyncClient
    token: str | None = None

    def headers(self) -> dict[str, str]:
        return {"content-type": "application/json", **({"authorization": f"Bearer {self.token}"} if self.token else {})}

    async def post_raw(self, body: bytes) -> dict:
        """POST an already-encoded {"query", "variables"} body; the decoded answer, or BenchError."""
        response = await self.client.post("/graphql", content=body, headers=self.headers())
        if response.status_code != 200:
            raise BenchError(f"HTTP {response.status_code}: {response.text[:500]}")
        answer = response.json()
        if answer.get("errors"):
            raise BenchError(f"GraphQL errors: {answer['errors']!r:.1000}")
        return answer["data"]

    async def data(self, query: str, variables: dict | None = None) -> dict:
        import json

        return await self.post_raw(json.dumps({"query": query, "variables": variables or {}}).encode())


def payload(data: dict, field: str) -> dict:
    """A mutation payload that must carry no user errors."""
    result = data[field]
    if result.get("errors"):
        raise BenchError(f"{field} refused: {result['errors']!r}")
    return result


SIGN_UP = """mutation($i: SignUpInput!) { signUp(input: $i) { token errors { code field message } } }"""
CREATE_ORG = """mutation($i: CreateOrganizationInput!) {
  createOrganization(input: $i) { organization { id } errors { code field message } } }"""
CREATE_DATASET = """mutation($i: CreateDatasetInput!) {
  createDataset(input: $i) { dataset { id } errors { code field message } } }"""
CREATE_VERSION = """mutation($i: CreateDatasetVersionInput!) {
  createDatasetVersion(input: $i) { datasetVersion { id } errors { code field message } } }"""
ADD_ASSETS = """mutation($i: AddAssetsInput!) {
  addAssets(input: $i) { assets { id } errors { code field message } } }"""


async def sign_up_manager(api: Api) -> str:
    """Signs up `manager`, who creates (so administers, and manages) the organization; sets api.token."""
    data = await api.data(SIGN_UP, {"i": {"username": "manager", "email": "manager@example.com",
                                          "password": "correct horse battery"}})
    api.token = payload(data, "signUp")["token"]
    return api.token


async def create_dataset(api: Api) -> str:
    org = payload(await api.data(CREATE_ORG, {"i": {"name": "Bench"}}), "createOrganization")["organization"]["id"]
    data = await api.data(CREATE_DATASET, {"i": {"organizationId": org, "name": "Streets"}})
    return payload(data, "createDataset")["dataset"]["id"]


async def create_version(api: Api, dataset_id: str, name: str) -> str:
    data = await api.data(CREATE_VERSION, {"i": {"datasetId": dataset_id, "name": name, "labels": LABELS}})
    return payload(data, "createDatasetVersion")["datasetVersion"]["id"]


def make_assets(count: int, seed: int = 1) -> list[dict]:
    """`count` AssetInputs; every third one carries 1 to 3 RECTANGLE shapes with random labels."""
    rng = random.Random(seed)
    assets = []
    for index in range(count):
        width, height = rng.choice([(1920, 1080), (1280, 720), (640, 480), (4000, 3000)])
        asset = {"filename": f"frames/{index:06d}.jpg", "width": width, "height": height,
                 "url": f"https://images.example.com/frames/{index:06d}.jpg"}
        if index % 3 == 0:
            shapes = []
            for _ in range(rng.randint(1, 3)):
                x1, y1 = rng.uniform(0, width / 2), rng.uniform(0, height / 2)
                x2, y2 = rng.uniform(x1 + 1, width), rng.uniform(y1 + 1, height)
                shapes.append({"label": rng.choice(LABELS), "kind": "RECTANGLE",
                               "points": [{"x": round(x1, 2), "y": round(y1, 2)}, {"x": round(x2, 2), "y": round(y2, 2)}]})
            asset["shapes"] = shapes
        assets.append(asset)
    return assets


def add_assets_body(version_id: str, assets: list[dict]) -> bytes:
    import json

    return json.dumps({"query": ADD_ASSETS, "variables": {"i": {"datasetVersionId": version_id, "assets": assets}}}).encode()


async def add_assets(api: Api, version_id: str, assets: list[dict]) -> None:
    """Adds the assets (one call, up to 10,000) and checks they all came back."""
    data = await api.post_raw(add_assets_body(version_id, assets))
    got = len(payload(data, "addAssets")["assets"])
    if got != len(assets):
        raise BenchError(f"addAssets returned {got} assets for {len(assets)}")


# --- SQL statement counting --------------------------------------------------------------------

class QueryCounter(logging.Handler):
    """Counts SQL statements as Tortoise's db client logs them (one "%s: %s" record each),
    exactly as tests/conftest.py QueryCounter does."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "%s: %s" and isinstance(record.args, tuple) and record.args:
            self.statements.append(str(record.args[0]))


@contextmanager
def counting_statements() -> Iterator[QueryCounter]:
    """Turns the db client's DEBUG log on for the block, without letting it reach the console."""
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate


# --- figures -----------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def run_bounded(main, timeout: float) -> int:
    """Runs the coroutine function `main` with an overall time bound; 0 on success, 1 on failure."""
    started = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(main(), timeout))
    except (asyncio.TimeoutError, TimeoutError):
        say(f"FAILED: the benchmark did not finish within {timeout:.0f} s")
        return 1
    except BenchError as error:
        say(f"FAILED: {error}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    say(f"done in {time.monotonic() - started:.1f} s")
    return 0
