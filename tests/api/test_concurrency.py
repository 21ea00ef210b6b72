"""Concurrent transitions against a real uvicorn server.

Six clients submitting one task at the same moment: it moves once, every other client is refused
with CONFLICT or INVALID_STATE, and exactly one SUBMITTED event exists. With two server processes
sharing one SQLite file (events through Redis), concurrent writes to different tasks all succeed.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack

import httpx
import pytest
from campaign_helpers import ISSUE, LAUNCH, add_assets, all_tasks, campaign_with_steps

from tests.conftest import IN_CI, SQLITE_SETTINGS, Api, build_world, running_server

REDIS_URL = os.environ.get("STEPWISE_TEST_REDIS_URL")
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { token errors { code } } }"
PASSWORD = "correct horse battery"  # the one build_world's sign-ups use
TASK_STATE = """query($t: ID!) { task(id: $t) { status version assignee { username }
  events { kind actor { username } } asset { issues { id status } } } }"""
PROGRESS = "query($c: ID!) { campaign(id: $c) { status progress { done percent } } }"
# A CONTRIBUTOR sees every task of the campaign, so a client that loses the race reads the refusal
# in the payload; a LABELER arriving after the winner's commit would get a top-level NOT_FOUND
# instead (a finished task is no longer theirs to see), which is not what these tests are about.
ONE_STEP = [("Annotate", "ANNOTATION", ["contributor1"])]
TWO_STEPS = [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])]
MUTATIONS = {
    "submitTask": "mutation($i: SubmitTaskInput!) { submitTask(input: $i) { task { id status version } errors { code field message } } }",
    "skipTask": "mutation($i: SkipTaskInput!) { skipTask(input: $i) { task { id status version } errors { code field message } } }",
}


async def launched_campaign(api: Api, names: list[str], steps) -> tuple[object, str, dict[str, str]]:
    world = await build_world(api)
    await add_assets(api, world, names)
    campaign, _ = await campaign_with_steps(api, world, steps)
    result = await api.data(LAUNCH, {"c": campaign}, world.manager)
    assert result["launchCampaign"]["errors"] == [], result
    tasks = await all_tasks(api, world, campaign)
    return world, campaign, {t["asset"]["filename"]: t["id"] for t in tasks}


async def log_in(api: Api, username: str, times: int) -> list[str]:
    """Separate sessions of one user (one token per client)."""
    tokens = []
    for _ in range(times):
        payload = (await api.data(LOG_IN, {"i": {"username": username, "password": PASSWORD}}))["logIn"]
        assert payload["errors"] == [], payload
        tokens.append(payload["token"])
    return tokens


async def at_once(base: str, calls: list[tuple[str, str, dict]]) -> list[dict]:
    """Each (token, mutation name, input) from its own client, all sent together. The clients
    connect first, so that the requests themselves leave at the same moment."""
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=60)) for _ in calls]
        await asyncio.gather(*(client.get("/health") for client in clients))
        responses = await asyncio.gather(*(
            client.post("/graphql", json={"query": MUTATIONS[name], "variables": {"i": variables}},
                        headers={"authorization": f"Bearer {token}"})
            for client, (token, name, variables) in zip(clients, calls, strict=True)
        ))
    bodies = []
    for response, (_, name, _) in zip(responses, calls, strict=True):
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]  # no top-level error of any kind (e.g. "database is locked")
        bodies.append(body["data"][name])
    return bodies


def exactly_one_success(payloads: list[dict]) -> dict:
    winners = [p for p in payloads if not p["errors"]]
    assert len(winners) == 1, payloads
    for loser in payloads:
        if loser is winners[0]:
            continue
        assert loser["task"] is None, loser
        assert [e["code"] for e in loser["errors"]] in (["CONFLICT"], ["INVALID_STATE"]), loser
    return winners[0]


@pytest.fixture
async def live_api(live_server):
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield Api(client)


@pytest.mark.parametrize("with_version", [False, True], ids=["no-expectedVersion", "expectedVersion"])
async def test_six_clients_submitting_one_task_move_it_once(live_server, live_api, with_version):
    names = [f"{i}.jpg" for i in range(4)]
    world, campaign, tasks = await launched_campaign(live_api, names, ONE_STEP)
    tokens = await log_in(live_api, "contributor1", 6)
    for name in names:  # several rounds: a race may go either way
        task = tasks[name]
        version = (await live_api.data(TASK_STATE, {"t": task}, world.manager))["task"]["version"]
        variables = {"taskId": task, **({"expectedVersion": version} if with_version else {})}
        payloads = await at_once(live_server, [(token, "submitTask", variables) for token in tokens])
        winner = exactly_one_success(payloads)
        assert winner["task"] == {"id": task, "status": "DONE", "version": version + 1}
        if with_version:  # every loser saw a version that no longer matched
            assert {p["errors"][0]["code"] for p in payloads if p is not winner} == {"CONFLICT"}
        state = (await live_api.data(TASK_STATE, {"t": task}, world.manager))["task"]
        assert state["status"] == "DONE" and state["version"] == version + 1
        kinds = [e["kind"] for e in state["events"]]
        assert kinds.count("SUBMITTED") == 1 and kinds.count("DONE") == 1, kinds
    progress = (await live_api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]
    assert progress == {"status": "COMPLETED", "progress": {"done": 4, "percent": 100.0}}


async def test_concurrent_submit_and_skip_of_one_task_never_both_succeed(live_server, live_api):
    names = [f"{i}.jpg" for i in range(3)]
    world, _, tasks = await launched_campaign(live_api, names, ONE_STEP)
    tokens = await log_in(live_api, "contributor1", 6)
    for name in names:
        task = tasks[name]
        calls = [(token, "submitTask" if i % 2 else "skipTask", {"taskId": task, **({} if i % 2 else {"issue": ISSUE})})
                 for i, token in enumerate(tokens)]
        payloads = await at_once(live_server, calls)
        winner = exactly_one_success(payloads)
        state = (await live_api.data(TASK_STATE, {"t": task}, world.manager))["task"]
        assert state["status"] == winner["task"]["status"] in ("DONE", "SKIPPED")
        kinds = [e["kind"] for e in state["events"]]
        assert len([k for k in kinds if k in ("SUBMITTED", "SKIPPED")]) == 1, kinds
        # Only the winning skip's issue exists: the losers' issues were rolled back with them.
        assert len(state["asset"]["issues"]) == (1 if state["status"] == "SKIPPED" else 0), state


async def test_concurrent_tasks_entering_a_step_share_it_by_exact_rotation(live_server, live_api):
    """Eight tasks entering Review at once: round robin over two reviewers gives four each, and
    the rotation goes on from where they left it (on PostgreSQL a transition takes the step's row
    lock before attributing there; SQLite runs one write transaction at a time)."""
    names = [f"{i}.jpg" for i in range(10)]
    steps = [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1", "contributor1"])]
    world, _, tasks = await launched_campaign(live_api, names, steps)
    labelers, contributors = await log_in(live_api, "labeler1", 4), await log_in(live_api, "contributor1", 4)
    holders = [labelers[i // 2] if i % 2 == 0 else contributors[i // 2] for i in range(8)]
    payloads = await at_once(live_server, [(holders[i], "submitTask", {"taskId": tasks[n]}) for i, n in enumerate(names[:8])])
    assert [p["errors"] for p in payloads] == [[]] * 8
    reviewers = [(await live_api.data(TASK_STATE, {"t": tasks[n]}, world.manager))["task"]["assignee"]["username"]
                 for n in names[:8]]
    assert sorted(reviewers) == ["contributor1"] * 4 + ["manager1"] * 4, reviewers
    # Two more, one at a time: the rotation continues, one each.
    for name, token in zip(names[8:], [labelers[0], contributors[0]], strict=True):
        payload = (await live_api.data(MUTATIONS["submitTask"], {"i": {"taskId": tasks[name]}}, token))["submitTask"]
        assert payload["errors"] == [], payload
    last = [(await live_api.data(TASK_STATE, {"t": tasks[n]}, world.manager))["task"]["assignee"]["username"]
            for n in names[8:]]
    assert sorted(last) == ["contributor1", "manager1"], last


def redis_url() -> str:
    if REDIS_URL:
        return REDIS_URL
    if IN_CI:
        pytest.fail("STEPWISE_TEST_REDIS_URL must be set in CI: the multi-process variant has to run there")
    pytest.skip("two server processes need a shared broker: set STEPWISE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379)")


@pytest.fixture
def two_workers(sqlite_url, tmp_path):
    env = {"STEPWISE_DATABASE_URL": sqlite_url, "STEPWISE_DATA_DIR": str(tmp_path), "STEPWISE_BROKER_URL": redis_url(),
           **SQLITE_SETTINGS}
    with running_server(env, "--workers", "2") as base:
        yield base


async def test_two_processes_on_one_sqlite_file_take_concurrent_writes(two_workers):
    names = [f"{i}.jpg" for i in range(8)]
    async with httpx.AsyncClient(base_url=two_workers, timeout=60) as client:
        api = Api(client)
        world, campaign, tasks = await launched_campaign(api, names, TWO_STEPS)
        labelers, contributors = await log_in(api, "labeler1", 4), await log_in(api, "contributor1", 4)
        managers = await log_in(api, "manager1", 8)
        # Round robin gave labeler1 the even tasks, contributor1 the odd ones.
        holders = [labelers[i // 2] if i % 2 == 0 else contributors[i // 2] for i in range(8)]
        payloads = await at_once(two_workers, [(holders[i], "submitTask", {"taskId": tasks[n]}) for i, n in enumerate(names)])
        assert [p["errors"] for p in payloads] == [[]] * 8
        assert [p["task"]["status"] for p in payloads] == ["IN_PROGRESS"] * 8
        payloads = await at_once(two_workers, [(managers[i], "submitTask", {"taskId": tasks[n]}) for i, n in enumerate(names)])
        assert [p["errors"] for p in payloads] == [[]] * 8
        assert [p["task"]["status"] for p in payloads] == ["DONE"] * 8
        for name in names:
            kinds = [e["kind"] for e in (await api.data(TASK_STATE, {"t": tasks[name]}, world.manager))["task"]["events"]]
            assert kinds == ["CREATED", "SUBMITTED", "SUBMITTED", "DONE"], kinds
        progress = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]
        assert progress == {"status": "COMPLETED", "progress": {"done": 8, "percent": 100.0}}


async def test_two_processes_never_both_move_one_task(two_workers):
    names = [f"{i}.jpg" for i in range(3)]
    async with httpx.AsyncClient(base_url=two_workers, timeout=60) as client:
        api = Api(client)
        world, _, tasks = await launched_campaign(api, names, ONE_STEP)
        tokens = await log_in(api, "contributor1", 6)
        for with_version, name in zip((False, True, False), names, strict=True):
            task = tasks[name]
            version = (await api.data(TASK_STATE, {"t": task}, world.manager))["task"]["version"]
            variables = {"taskId": task, **({"expectedVersion": version} if with_version else {})}
            exactly_one_success(await at_once(two_workers, [(token, "submitTask", variables) for token in tokens]))
            kinds = [e["kind"] for e in (await api.data(TASK_STATE, {"t": task}, world.manager))["task"]["events"]]
            assert kinds == ["CREATED", "SUBMITTED", "DONE"], kinds

