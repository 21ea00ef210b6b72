"""Crashes: `kill -9` of a real `stepwise serve` in the middle of a 100,000-asset launch, of a
500-task bulk reassignment and of a COCO import into a launched campaign, then a restart on the same database: each is there entirely or not
at all (tasks, their events and the campaign's log counted in the database), and the restarted
server takes the same request again.

The kill comes after a delay that grows from try to try (the launch takes a fraction of a second
here), so some land before the commit; the test prints where each landed. STEPWISE_TEST_KILL_TRIES
(default 2) sets the tries per operation; docs/reliability.md.

SQLite only: there a crash leaves a WAL with uncommitted frames that the next process must roll
back; PostgreSQL aborts a transaction whose connection dies, which its own tests cover.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import asyncpg
import httpx
from campaign_helpers import LAUNCH, TASKS, campaign_with_steps

from stepwise.schema.ids import decode_id
from tests.conftest import ROOT, SQLITE_SETTINGS, Api, build_world, free_port

TRIES = int(os.environ.get("STEPWISE_TEST_KILL_TRIES", "2"))
ASSETS = 100_000
STEPS = [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])]
ADD = "mutation($i: AddAssetsInput!) { addAssets(input: $i) { errors { code } } }"
REASSIGN_MANY = "mutation($i: ReassignTasksInput!) { reassignTasks(input: $i) { errors { code } } }"


@contextmanager
def server_process(env: dict[str, str], log: str | None = None):
    """`stepwise serve` as a subprocess; yields (process, base URL). Its output goes to `log` (a
    path, kept for the test to read) or to a temporary file."""
    port = free_port()
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")}, **env}
    with (open(log, "wb") if log else tempfile.TemporaryFile()) as output:
        process = subprocess.Popen([sys.executable, "-m", "stepwise", "serve", "--port", str(port)],
                                   env=full_env, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield process, base
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


async def counts(database_url: str, campaign: str) -> tuple[int, int, int]:
    """(tasks, task events, log rows) of the campaign, read from the database."""
    pk = decode_id(campaign, "Campaign")
    queries = [f"SELECT COUNT(*) FROM {table} WHERE campaign_id = {pk}" for table in ("task", "task_event", "campaign_event")]
    if database_url.startswith("sqlite://"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite://"))
        try:
            return tuple(conn.execute(q).fetchone()[0] for q in queries)
        finally:
            conn.close()
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        return tuple([await conn.fetchval(q) for q in queries])
    finally:
        await conn.close()


async def killed_during(env: dict[str, str], query: str, variables: dict, token: str, delay: float,
                        upload: bytes | None = None) -> str:
    """Start a server, send the request (with `upload` as the multipart file of `variables.i.file`),
    kill -9 the server `delay` s later; what the client saw."""
    if upload is None:
        body = {"json": {"query": query, "variables": variables}}
    else:
        operations = json.dumps({"query": query, "variables": variables})
        body = {"data": {"operations": operations, "map": json.dumps({"0": ["variables.i.file"]})},
                "files": {"0": ("coco.json", upload, "application/json")}}
    with server_process(env) as (process, base):
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            await client.get("/health")
            request = asyncio.create_task(client.post("/graphql", headers={"authorization": f"Bearer {token}"}, **body))
            await asyncio.sleep(delay)
            process.send_signal(signal.SIGKILL)
            try:
                response = await request
                return f"answered {response.status_code} before the kill"
            except httpx.TransportError:
                return "killed before answering"


async def test_kill_9_during_a_launch_and_a_bulk_reassign_is_all_or_nothing(migrated_sqlite_url, tmp_path):
    settings_env = {"STEPWISE_DATABASE_URL": migrated_sqlite_url, "STEPWISE_DATA_DIR": str(tmp_path), **SQLITE_SETTINGS}
    url = migrated_sqlite_url
    with server_process(settings_env) as (_, base):
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            api = Api(client)
            world = await build_world(api)
            for start in range(0, ASSETS, 10_000):
                assets = [{"filename": f"{i:06}.jpg", "width": 640, "height": 480} for i in range(start, start + 10_000)]
                result = await api.data(ADD, {"i": {"datasetVersionId": world.ids["version"], "assets": assets}}, world.manager)
                assert result["addAssets"]["errors"] == []
            campaign, steps = await campaign_with_steps(api, world, STEPS)

    seen = []
    for attempt in range(TRIES):
        delay = 0.05 * 3 ** attempt
        said = await killed_during(settings_env, LAUNCH, {"c": campaign}, world.manager, delay)
        found = await counts(url, campaign)
        assert found in ((0, 0, 0), (ASSETS, ASSETS, ASSETS)), (delay, said, found)
        seen.append((delay, said, "launched" if found[0] else "nothing"))
        if found[0]:
            break
    with server_process(settings_env) as (_, base):  # restarted: it serves, and launches if not yet
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            api = Api(client)
            if seen[-1][2] == "nothing":
                assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
            assert await counts(url, campaign) == (ASSETS, ASSETS, ASSETS)
            page = await api.data(TASKS, {"c": campaign, "first": 500, "f": {"stepId": steps[0], "assigneeId": world.ids["labeler"]}},
                                  world.manager)
            chosen = [edge["node"]["id"] for edge in page["campaign"]["tasks"]["edges"]]
    assert len(chosen) == 500
    print("\nlaunch of 100,000 tasks, kill -9 after (s, what the client saw, what the database held):", seen)

    variables = {"i": {"stepId": steps[0], "taskIds": chosen, "assigneeId": world.ids["contributor"]}}
    seen = []
    for attempt in range(TRIES):
        delay = 0.002 * 4 ** attempt
        said = await killed_during(settings_env, REASSIGN_MANY, variables, world.manager, delay)
        _, events, logged = await counts(url, campaign)
        moved = events - ASSETS
        assert moved in (0, 500) and logged - ASSETS == moved, (delay, said, events, logged)
        seen.append((delay, said, "reassigned" if moved else "nothing"))
        if moved:
            break
    with server_process(settings_env) as (_, base):
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            api = Api(client)
            if seen[-1][2] == "nothing":
                assert (await api.data(REASSIGN_MANY, variables, world.manager))["reassignTasks"]["errors"] == []
            page = await api.data(TASKS, {"c": campaign, "first": 1, "f": {"assigneeId": world.ids["contributor"]}},
                                  world.manager)
            # contributor1 held half of the launch by rotation, and now the 500 as well
            assert page["campaign"]["tasks"]["totalCount"] == ASSETS // 2 + 500
    print("bulk reassignment of 500 tasks, kill -9 after:", seen)


IMPORT = "mutation($i: ImportAnnotationsInput!) { importAnnotations(input: $i) { assetsAdded errors { code message } } }"
IMPORTED = 40_000


async def version_assets(database_url: str, version: str) -> int:
    pk = decode_id(version, "DatasetVersion")
    conn = sqlite3.connect(database_url.removeprefix("sqlite://"))
    try:
        return conn.execute(f"SELECT COUNT(*) FROM asset WHERE version_id = {pk}").fetchone()[0]
    finally:
        conn.close()


async def test_kill_9_during_a_coco_import_into_a_launched_campaign_is_all_or_nothing(migrated_sqlite_url, tmp_path):
    """The import's assets, annotations, tasks, their events and the log rows commit together or
    not at all; the restarted server then takes the same file."""
    settings_env = {"STEPWISE_DATABASE_URL": migrated_sqlite_url, "STEPWISE_DATA_DIR": str(tmp_path), **SQLITE_SETTINGS}
    url = migrated_sqlite_url
    with server_process(settings_env) as (_, base):
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            api = Api(client)
            world = await build_world(api)
            first = [{"filename": "first.jpg", "width": 640, "height": 480}]  # a campaign launches with assets
            assert (await api.data(ADD, {"i": {"datasetVersionId": world.ids["version"], "assets": first}}, world.manager)
                    )["addAssets"]["errors"] == []
            campaign, _ = await campaign_with_steps(api, world, STEPS, newAssetPolicy="ADD_TO_CAMPAIGN")
            assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    coco = json.dumps({
        "images": [{"id": i, "file_name": f"{i:06}.jpg", "width": 640, "height": 480} for i in range(IMPORTED)],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}],
        "annotations": [{"id": i, "image_id": i, "category_id": 1 + i % 2, "bbox": [10, 20, 100, 50 + i % 97]}
                        for i in range(0, IMPORTED, 2)],
    }).encode()
    variables = {"i": {"datasetVersionId": world.ids["version"], "format": "COCO", "file": None}}

    seen = []
    for attempt in range(TRIES):
        delay = 0.5 * 2 ** attempt  # 40,000 images are read, checked and written in about a second here
        said = await killed_during(settings_env, IMPORT, variables, world.manager, delay, upload=coco)
        assets, found = await version_assets(url, world.ids["version"]), await counts(url, campaign)
        assert (assets, found) in ((1, (1, 1, 1)), (IMPORTED + 1, (IMPORTED + 1,) * 3)), (delay, said, assets, found)
        seen.append((delay, said, "imported" if assets > 1 else "nothing"))
        if assets > 1:
            break
    with server_process(settings_env) as (_, base):
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            if seen[-1][2] == "nothing":
                operations = json.dumps({"query": IMPORT, "variables": variables})
                response = await client.post("/graphql", data={"operations": operations, "map": json.dumps({"0": ["variables.i.file"]})},
                                             files={"0": ("coco.json", coco, "application/json")},
                                             headers={"authorization": f"Bearer {world.manager}"})
                assert response.json()["data"]["importAnnotations"] == {"assetsAdded": IMPORTED, "errors": []}
            assert await version_assets(url, world.ids["version"]) == IMPORTED + 1
            assert await counts(url, campaign) == (IMPORTED + 1,) * 3
    print("\nCOCO import of 40,000 images into a launched campaign, kill -9 after:", seen)
