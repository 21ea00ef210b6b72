"""PostgreSQL restarted under load: a private cluster that the test starts (initdb + pg_ctl on a
free port, under tmp), a real `stepwise serve` on it, clients reading and submitting in a loop.
The cluster is stopped (immediate mode: like a crash) and started again. Meanwhile every request
is answered, with HTTP 200 or 503 and a coded error (DATABASE_UNAVAILABLE), never a 500 or a
hang, and /health says 503; once the cluster is back the same server serves again, without a
restart, and nothing committed before the stop is lost.

Needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin); skipped without them, except in
CI. Run as root, the cluster runs as the `postgres` user.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import time

import asyncpg
import httpx
import pytest
from campaign_helpers import LAUNCH, add_assets, all_tasks, campaign_with_steps

from tests.api.test_kill9 import server_process
from tests.conftest import IN_CI, SQLITE_SETTINGS, Api, build_world, free_port

SUBMIT = "mutation($i: SubmitTaskInput!) { submitTask(input: $i) { errors { code } } }"
PAGE = "query($c: ID!) { campaign(id: $c) { tasks(first: 20) { totalCount } } }"


def postgres_bin() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        if IN_CI:
            pytest.fail("PostgreSQL's server binaries must be installed in CI (/usr/lib/postgresql/*/bin)")
        pytest.skip("needs PostgreSQL's server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin")
    return os.path.dirname(found[-1])


class Cluster:
    def __init__(self, root: str) -> None:
        self.bin, self.root, self.port = postgres_bin(), root, free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, f"{self.bin}/{tool}", *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        if self.as_user:
            shutil.chown(self.root, "postgres")
        self.run("initdb", "-D", f"{self.root}/data", "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        self.run("pg_ctl", "-D", f"{self.root}/data", "-l", f"{self.root}/log", "-w", "start", "-o",
                 f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", f"{self.root}/data", "-m", mode, "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/stepwise"


@pytest.fixture
def cluster():
    # Directly under /tmp: pytest's own tmp tree is private to this user, and the cluster may run
    # as `postgres`.
    root = tempfile.mkdtemp(prefix="stepwise-cluster-")
    cluster = Cluster(root)
    cluster.init()
    cluster.start()

    async def create() -> None:
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
        await conn.execute("CREATE DATABASE stepwise")
        await conn.close()

    asyncio.run(create())
    try:
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(root, ignore_errors=True)


async def test_postgres_restarted_under_load_fails_fast_and_recovers(cluster, tmp_path):
    env = {"STEPWISE_DATABASE_URL": cluster.url, "STEPWISE_DATA_DIR": str(tmp_path), **SQLITE_SETTINGS}
    with server_process(env) as (_, base):
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            api = Api(client)
            world = await build_world(api)
            await add_assets(api, world, [f"{i}.jpg" for i in range(200)])
            campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["contributor1"])])
            assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
            tasks = [t["id"] for t in await all_tasks(api, world, campaign)]
            answers: list[tuple[str, int, str]] = []  # (phase, HTTP status, codes)
            phase = ["up"]
            done: list[str] = []
            stop = asyncio.Event()

            async def load(worker: int) -> None:
                async with httpx.AsyncClient(base_url=base, timeout=30) as own:
                    while not stop.is_set():
                        if len(done) < len(tasks) and worker % 2 == 0:
                            task = tasks[(len(done) + worker) % len(tasks)]
                            body = {"query": SUBMIT, "variables": {"i": {"taskId": task}}}
                        else:
                            body = {"query": PAGE, "variables": {"c": campaign}}
                        sent_in = phase[0]  # the phase the request was sent in
                        response = await own.post("/graphql", json=body, headers={"authorization": f"Bearer {world.contributor}"})
                        assert response.status_code in (200, 503), (phase[0], response.status_code, response.text)
                        payload = response.json()
                        assert "Traceback" not in response.text
                        codes = sorted({e["extensions"]["code"] for e in payload.get("errors", [])})
                        if "submitTask" in (payload.get("data") or {}) and payload["data"]["submitTask"] \
                                and not payload["data"]["submitTask"]["errors"]:
                            done.append(body["variables"]["i"]["taskId"])
                        answers.append((sent_in, response.status_code, ",".join(codes)))
                        await asyncio.sleep(0.01)

            jobs = [asyncio.create_task(load(w)) for w in range(4)]
            await asyncio.sleep(1)
            committed_before = len(set(done))
            phase[0] = "stopping"
            await asyncio.to_thread(cluster.stop, "immediate")
            phase[0] = "down"
            await asyncio.sleep(2)
            health_down = (await client.get("/health")).status_code
            phase[0] = "starting"
            await asyncio.to_thread(cluster.start)
            deadline = time.monotonic() + 30
            while (await client.get("/health")).status_code != 200:
                assert time.monotonic() < deadline, "the server did not recover within 30 s"
                await asyncio.sleep(0.2)
            phase[0] = "back"
            await asyncio.sleep(2)
            stop.set()
            await asyncio.gather(*jobs)
            state = await all_tasks(api, world, campaign)
    by_phase = {}
    for name, status, codes in answers:
        by_phase.setdefault(name, {}).setdefault(f"{status} {codes or 'ok'}", 0)
        by_phase[name][f"{status} {codes or 'ok'}"] += 1
    print("\nanswers per phase:", by_phase, "/health while down:", health_down)
    assert health_down == 503
    down = [a for a in answers if a[0] == "down"]
    assert down and all(codes == "DATABASE_UNAVAILABLE" for _, _, codes in down), by_phase
    back = [a for a in answers if a[0] == "back"]
    assert back and all(status == 200 and codes == "" for _, status, codes in back), by_phase
    assert sum(1 for t in state if t["status"] == "DONE") >= committed_before
