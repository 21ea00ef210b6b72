"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when configured), the app
through its real lifespan, a GraphQL helper with users of every role, and a live uvicorn."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from tortoise.backends.base.executor import EXECUTOR_CACHE

from stepwise.app import create_app
from stepwise.config import load_settings
from stepwise.models.db.lifecycle import apply_migrations

POSTGRES_URL = os.environ.get("STEPWISE_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("STEPWISE_TEST_REDIS_URL")
IN_CI = os.environ.get("CI") == "true"
# The whole suite runs with the loop budget on: a statement that spends more than 20 ms of CPU on
# the event loop fails, naming itself (models/db/sqlite_inline.py). .ci/run runs the SQLite tests
# a second time with STEPWISE_TEST_SQLITE_ENGINE=aiosqlite (Tortoise's own client).
LOOP_BUDGET_MS = 20
SQLITE_ENGINE = os.environ.get("STEPWISE_TEST_SQLITE_ENGINE", "inline")
# The settings every server of the suite runs with: the SQLite engine under test with the loop
# budget on, and fast password hashing (real argon2, 1 MiB and 1 pass: the suite signs up
# thousands of users; tests/api/test_accounts.py checks the standard profile too).
SQLITE_SETTINGS = {"STEPWISE_SQLITE_ENGINE": SQLITE_ENGINE, "STEPWISE_SQLITE_LOOP_BUDGET_MS": str(LOOP_BUDGET_MS),
                   "STEPWISE_PASSWORD_HASHING": "fast"}
ROOT = Path(__file__).resolve().parent.parent


def _require(url: str | None, what: str, variable: str) -> str:
    if url:
        return url
    if IN_CI:
        pytest.fail(f"{variable} must be set in CI: the {what} variant has to run there")
    pytest.skip(f"{what} tests need {variable} (e.g. postgres://postgres@127.0.0.1:5432/test)")


@contextmanager
def postgres_database():
    """A throwaway PostgreSQL database, dropped afterwards."""
    _require(POSTGRES_URL, "PostgreSQL", "STEPWISE_TEST_POSTGRES_URL")
    name = _DATABASES.take(None)
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        _DATABASES.drop_later(name)


class _Databases:
    """The suite's throwaway PostgreSQL databases, made ahead and dropped behind on a thread of
    their own: here CREATE DATABASE takes 0.1-0.7 s and DROP DATABASE 0.6-1.2 s (it waits for a
    checkpoint), twice per PostgreSQL test, which the tests need not wait for. One spare of each
    kind (empty, or a copy of a template) is kept ready; whatever is left is dropped at the end."""

    def __init__(self) -> None:
        self._worker: ThreadPoolExecutor | None = None  # makes the spares
        self._dropper: ThreadPoolExecutor | None = None  # drops, apart: they must not delay a spare
        self._spares: dict[str | None, Future] = {}

    def take(self, template: str | None) -> str:
        """A new database (a copy of `template`, or empty), and a spare started for the next."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="test-databases")
            self._dropper = ThreadPoolExecutor(1, thread_name_prefix="test-database-drops")
        spare = self._spares.pop(template, None)
        name = spare.result() if spare is not None else self._create(template)
        self._spares[template] = self._worker.submit(self._create, template)
        return name

    def drop_later(self, name: str) -> None:
        self._dropper.submit(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._worker is None:
            return
        for spare in self._spares.values():
            self.drop_later(spare.result())
        self._spares.clear()
        self._worker.shutdown(wait=True)
        self._dropper.shutdown(wait=True)  # every drop done, before the templates' own (atexit)
        self._worker = self._dropper = None

    @staticmethod
    def _create(template: str | None) -> str:
        name = f"stepwise_test_{uuid.uuid4().hex[:12]}"
        _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name


_DATABASES = _Databases()


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases():
    yield
    _DATABASES.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    """An empty database of each backend; PostgreSQL skips without STEPWISE_TEST_POSTGRES_URL."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'stepwise.sqlite3'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite://{tmp_path / 'stepwise.sqlite3'}"


@pytest.fixture
def migrated_sqlite_url(sqlite_url, tmp_path_factory) -> str:
    migrated_copy(sqlite_url, tmp_path_factory.getbasetemp())
    return sqlite_url


# Migrated databases to copy: Tortoise's migration executor takes 0.5-1 s of CPU for the nine
# migrations (it renders every model state per operation), once per test was a third of the suite.
# Each session migrates one template per backend (and tests/integration/test_migrations.py still
# migrates empty databases of both), then every test gets a copy.
_TEMPLATES: dict[str, str] = {}


def _admin(*statements: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1))
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _sqlite_template(tmp_dir: Path) -> str:
    import asyncio

    if "sqlite" not in _TEMPLATES:
        path = tmp_dir / "template.sqlite3"
        asyncio.run(apply_migrations(f"sqlite://{path}"))
        _TEMPLATES["sqlite"] = str(path)
    return _TEMPLATES["sqlite"]


def _postgres_template() -> str:
    import asyncio
    import atexit

    if "postgres" not in _TEMPLATES:
        name = f"stepwise_template_{uuid.uuid4().hex[:12]}"
        _admin(f'CREATE DATABASE "{name}"')
        atexit.register(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        asyncio.run(apply_migrations(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name))
        _TEMPLATES["postgres"] = name
    return _TEMPLATES["postgres"]


def migrated_copy(database_url: str, tmp_dir: Path) -> None:
    """Make the empty database at `database_url` a copy of the migrated template."""
    import sqlite3

    if database_url.startswith("sqlite://"):
        source = sqlite3.connect(_sqlite_template(tmp_dir))
        target = sqlite3.connect(database_url.removeprefix("sqlite://"))
        try:
            source.backup(target)  # consistent, WAL included
        finally:
            source.close()
            target.close()
        return
    # The empty database steps aside for a ready copy of the template, under its name.
    name = database_url.rsplit("/", 1)[1]
    copy, emptied = _DATABASES.take(_postgres_template()), f"{name}_empty"
    _admin(f'ALTER DATABASE "{name}" RENAME TO "{emptied}"', f'ALTER DATABASE "{copy}" RENAME TO "{name}"')
    _DATABASES.drop_later(emptied)


@pytest.fixture
def settings_env(database_url, tmp_path, tmp_path_factory) -> dict[str, str]:
    """The settings of a server on a migrated copy of the database (the app and `stepwise serve`
    still apply migrations at start: there are none left to apply)."""
    migrated_copy(database_url, tmp_path_factory.getbasetemp())
    return {"STEPWISE_DATABASE_URL": database_url, "STEPWISE_DATA_DIR": str(tmp_path), **SQLITE_SETTINGS}


@dataclass
class Api:
    """GraphQL over HTTP through the ASGI app."""

    client: httpx.AsyncClient
    app: object = None

    async def post(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        """The data of a query that must succeed without any error."""
        body = await self.post(query, variables, token)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def sign_up(self, username: str) -> tuple[str, str]:
        """(token, user id) of a new account."""
        data = await self.data(
            "mutation($i: SignUpInput!) { signUp(input: $i) { token user { id } errors { code field message } } }",
            {"i": {"username": username, "email": f"{username}@example.com", "password": "correct horse battery"}},
        )
        payload = data["signUp"]
        assert payload["errors"] == [], payload["errors"]
        return payload["token"], payload["user"]["id"]


def forget_compiled_sql() -> None:
    """Tortoise caches each model's INSERT per connection *name*: clear it when one test process
    switches between SQLite and PostgreSQL (a server only ever talks to one)."""
    EXECUTOR_CACHE.clear()


async def _app_api(settings_env: dict[str, str]) -> AsyncIterator[Api]:
    forget_compiled_sql()
    await apply_migrations(settings_env["STEPWISE_DATABASE_URL"])
    app = create_app(load_settings(settings_env))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(client, app)


@pytest.fixture
async def api(settings_env) -> AsyncIterator[Api]:
    async for value in _app_api(settings_env):
        yield value


@pytest.fixture
async def sqlite_api(migrated_sqlite_url, tmp_path) -> AsyncIterator[Api]:
    """The API on SQLite only, for checks that do not depend on the database."""
    sqlite_url = migrated_sqlite_url
    async for value in _app_api({"STEPWISE_DATABASE_URL": sqlite_url, "STEPWISE_DATA_DIR": str(tmp_path), **SQLITE_SETTINGS}):
        yield value


class QueryCounter(logging.Handler):
    """Counts SQL statements as Tortoise's db client logs them (one record per statement)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "%s: %s" and isinstance(record.args, tuple) and record.args:
            self.statements.append(str(record.args[0]))


@pytest.fixture
def count_queries():
    @contextmanager
    def counting():
        logger = logging.getLogger("tortoise.db_client")
        counter = QueryCounter()
        previous = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(counter)
        try:
            yield counter
        finally:
            logger.removeHandler(counter)
            logger.setLevel(previous)

    return counting


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(env: dict[str, str], *args: str, cwd: Path = ROOT):
    """`stepwise serve` in a real uvicorn process; yields its base URL."""
    port = free_port()
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")}, **env}
    # Its output goes to a file, not a pipe: a long test's logs would fill a pipe nobody reads,
    # and the server would hang on its next log line.
    output = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "stepwise", "serve", "--port", str(port), *args],
        env=full_env, stdout=output, stderr=subprocess.STDOUT, cwd=cwd,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output.seek(0)
                raise RuntimeError(f"server exited: {output.read().decode()}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code in (200, 503):
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start within 30 s")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        output.close()


@pytest.fixture
def live_server(settings_env):
    with running_server(settings_env) as base:
        yield base


@dataclass
class World:
    """An organization with one user per role, a dataset and an empty version; and an outsider
    who is ADMIN of another organization with its own dataset."""

    admin: str
    manager: str
    contributor: str
    labeler: str
    member: str
    outsider: str
    ids: dict[str, str]


WORLD_SETUP = """
mutation($org: CreateOrganizationInput!) { createOrganization(input: $org) { organization { id } errors { code } } }
"""


async def build_world(api: Api) -> World:
    tokens, ids = {}, {}
    for name in ("admin", "manager", "contributor", "labeler", "member", "outsider"):
        tokens[name], ids[name] = await api.sign_up(f"{name}1")
    org = (await api.data(WORLD_SETUP, {"org": {"name": "Acme"}}, tokens["admin"]))["createOrganization"]
    ids["org"] = org["organization"]["id"]
    invite = "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { errors { code } } }"
    for name, role in (("manager", "MEMBER"), ("contributor", "MEMBER"), ("labeler", "UNPRIVILEGED"), ("member", "MEMBER")):
        result = await api.data(invite, {"i": {"organizationId": ids["org"], "usernameOrEmail": f"{name}1", "role": role}}, tokens["admin"])
        assert result["inviteMember"]["errors"] == []
    dataset = await api.data(
        "mutation($i: CreateDatasetInput!) { createDataset(input: $i) { dataset { id } errors { code } } }",
        {"i": {"organizationId": ids["org"], "name": "Streets"}}, tokens["manager"],
    )
    ids["dataset"] = dataset["createDataset"]["dataset"]["id"]
    add_worker = "mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { errors { code } } }"
    for name, role in (("contributor", "CONTRIBUTOR"), ("labeler", None)):
        result = await api.data(add_worker, {"i": {"datasetId": ids["dataset"], "userId": ids[name], "role": role}}, tokens["manager"])
        assert result["addDatasetWorker"]["errors"] == []
    version = await api.data(
        "mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) { datasetVersion { id } errors { code } } }",
        {"i": {"datasetId": ids["dataset"], "name": "v1", "labels": ["car", "person"]}}, tokens["manager"],
    )
    ids["version"] = version["createDatasetVersion"]["datasetVersion"]["id"]
    other = (await api.data(WORLD_SETUP, {"org": {"name": "Other"}}, tokens["outsider"]))["createOrganization"]
    ids["other_org"] = other["organization"]["id"]
    other_dataset = await api.data(
        "mutation($i: CreateDatasetInput!) { createDataset(input: $i) { dataset { id } } }",
        {"i": {"organizationId": ids["other_org"], "name": "Theirs"}}, tokens["outsider"],
    )
    ids["other_dataset"] = other_dataset["createDataset"]["dataset"]["id"]
    return World(**{k: tokens[k] for k in ("admin", "manager", "contributor", "labeler", "member", "outsider")}, ids=ids)


@pytest.fixture
async def world(api) -> World:
    return await build_world(api)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory):
    """`stepwise demo`, then `stepwise serve` on the same data directory (SQLite). Loading the demo
    takes seconds, so the whole session shares one: each test works on its own tasks."""
    env = {"STEPWISE_DATA_DIR": str(tmp_path_factory.mktemp("demo")), "STEPWISE_PASSWORD_HASHING": "fast"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")}
    loaded = subprocess.run([sys.executable, "-m", "stepwise", "demo"], env={**clean, **env}, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    with running_server(env) as base:
        yield base
