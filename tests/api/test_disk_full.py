"""SQLite on a full disk: the database lives on a small tmpfs, a real `stepwise serve` on it; a
filler file takes the last free byte. Writes (new assets, submits) are then refused with a coded
error (DATABASE_FULL), never a 500 or a trace, and change nothing; reads go on; the file passes
PRAGMA integrity_check; once the filler is deleted the same server takes the same writes.

Mounting a tmpfs needs root (or CAP_SYS_ADMIN): skipped without it, except in CI.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile

import httpx
import pytest
from campaign_helpers import LAUNCH, add_assets, all_tasks, campaign_with_steps

from tests.api.test_kill9 import server_process
from tests.conftest import IN_CI, SQLITE_SETTINGS, Api, build_world, migrated_copy

ADD = "mutation($i: AddAssetsInput!) { addAssets(input: $i) { assets { id } errors { code } } }"
SUBMIT = "mutation($i: SubmitTaskInput!) { submitTask(input: $i) { task { status } errors { code } } }"
COUNT = "query($c: ID!) { campaign(id: $c) { tasks { totalCount } } }"


@pytest.fixture
def small_disk():
    root = tempfile.mkdtemp(prefix="stepwise-disk-")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", root], capture_output=True)
    if mounted.returncode != 0:
        os.rmdir(root)
        if IN_CI:
            pytest.fail(f"mounting a tmpfs failed in CI: {mounted.stderr.decode().strip()}")
        pytest.skip(f"mounting a small tmpfs needs root: {mounted.stderr.decode().strip()}")
    try:
        yield root
    finally:
        subprocess.run(["umount", root], check=False)
        os.rmdir(root)


def fill(path: str) -> None:
    """Write until the file system has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_writes_on_a_full_disk_fail_cleanly_and_the_server_recovers(small_disk, tmp_path, tmp_path_factory):
    database = os.path.join(small_disk, "stepwise.sqlite3")
    migrated_copy(f"sqlite://{database}", tmp_path_factory.getbasetemp())
    env = {"STEPWISE_DATABASE_URL": f"sqlite://{database}", "STEPWISE_DATA_DIR": str(tmp_path), **SQLITE_SETTINGS}
    filler = os.path.join(small_disk, "filler")
    with server_process(env) as (_, base):
        import asyncio

        async def scenario() -> dict:
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                api = Api(client)
                world = await build_world(api)
                await add_assets(api, world, [f"{i}.jpg" for i in range(20)])
                campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["contributor1"])])
                assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
                tasks = [t["id"] for t in await all_tasks(api, world, campaign)]
                fill(filler)
                big = [{"filename": f"full{i:05}.jpg", "width": 100, "height": 100} for i in range(5000)]
                refused = []
                for query, variables, token in [(ADD, {"i": {"datasetVersionId": world.ids["version"], "assets": big}}, world.manager),
                                                *[(SUBMIT, {"i": {"taskId": t}}, world.contributor) for t in tasks[:5]]]:
                    response = await client.post("/graphql", json={"query": query, "variables": variables},
                                                 headers={"authorization": f"Bearer {token}"})
                    assert response.status_code in (200, 503) and "Traceback" not in response.text, response.text
                    body = response.json()
                    refused.append(sorted({e["extensions"]["code"] for e in body.get("errors", [])}))
                # Reads go on, and show nothing of the refused writes.
                assert (await api.data(COUNT, {"c": campaign}, world.manager))["campaign"]["tasks"]["totalCount"] == 20
                states = {t["status"] for t in await all_tasks(api, world, campaign)}
                integrity = sqlite3.connect(f"file:{database}?mode=ro", uri=True).execute("PRAGMA integrity_check").fetchall()
                os.remove(filler)  # space is back: the same server takes the same writes
                again = await api.data(ADD, {"i": {"datasetVersionId": world.ids["version"], "assets": big}}, world.manager)
                submitted = await api.data(SUBMIT, {"i": {"taskId": tasks[0]}}, world.contributor)
                return {"refused": refused, "states": states, "integrity": integrity, "again": again, "submitted": submitted,
                        "count": (await api.data(COUNT, {"c": campaign}, world.manager))["campaign"]["tasks"]["totalCount"]}

        result = asyncio.run(scenario())
    print("\nfull disk: codes of the refused writes:", result["refused"])
    assert result["refused"] and all(codes == ["DATABASE_FULL"] for codes in result["refused"]), result["refused"]
    assert result["states"] == {"IN_PROGRESS"}
    assert result["integrity"] == [("ok",)]
    assert result["again"]["addAssets"]["errors"] == [] and len(result["again"]["addAssets"]["assets"]) == 5000
    assert result["submitted"]["submitTask"]["errors"] == [] and result["submitted"]["submitTask"]["task"]["status"] == "DONE"
    assert result["count"] == 5020
    shutil.disk_usage(os.path.dirname(database))  # still mounted and readable
