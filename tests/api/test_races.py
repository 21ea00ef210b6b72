"""Races on one task between everything that may move it, against real servers: two uvicorn
processes on one SQLite file (events through Redis), and PostgreSQL.

Each round brings a task to the Review step, submitted at Annotate by the labeler X (who then
holds no active task), and fires at once: the reviewer's submit, rework and skip, a MANAGER's
reassignment to Y, and the removal of X from the dataset. Whatever the order the servers chose:

- no lost update: the task's version grew by exactly the number of successes, and each success
  wrote exactly one event (plus DONE after a final submit), in the task's events and in the
  campaign's log alike;
- the task is in one place: its assignee is the one its last event names, its step and status
  those of the transition that won;
- at most one of the reviewer's three transitions succeeded;
- a rework that returns the task to X and X's removal never both succeed: a removed worker holds
  no active task (a rework gives the task back to whoever submitted it there; the removal
  refuses a worker who holds active tasks, so one of the two must see the other).

Rounds: STEPWISE_TEST_RACE_ROUNDS (default 4: each line-up once) per backend; docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from contextlib import AsyncExitStack

import asyncpg
import httpx
import pytest
from campaign_helpers import ISSUE, LAUNCH, REASSIGN, SUBMIT, add_assets, all_tasks, campaign_with_steps
from import_helpers import import_file, yolo_zip

from stepwise.models.db.datasets import Asset
from stepwise.schema.ids import decode_id
from tests.api.test_import_export import assert_quality_counts_match_a_rebuild
from tests.api.test_concurrency import log_in, redis_url
from tests.conftest import SQLITE_SETTINGS, Api, build_world, running_server

ROUNDS = int(os.environ.get("STEPWISE_TEST_RACE_ROUNDS", "4"))
STEPS = [("Annotate", "ANNOTATION", ["labeler1", "member1"]), ("Review", "REVIEW", ["contributor1"])]
STATE = """query($t: ID!) { task(id: $t) { status version step { name } assignee { username }
  events { kind step { name } assignee { username } } } }"""
UPDATE_STEP = "mutation($i: UpdateStepInput!) { updateStep(input: $i) { errors { code } } }"
ADD_WORKER = "mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { errors { code } } }"
RACERS = {
    "submit": "mutation($i: SubmitTaskInput!) { submitTask(input: $i) { errors { code } } }",
    "rework": "mutation($i: SendToReworkInput!) { sendTaskToRework(input: $i) { errors { code } } }",
    "skip": "mutation($i: SkipTaskInput!) { skipTask(input: $i) { errors { code } } }",
    "reassign": "mutation($i: ReassignTaskInput!) { reassignTask(input: $i) { errors { code } } }",
    "remove": "mutation($i: RemoveDatasetWorkerInput!) { removeDatasetWorker(input: $i) { errors { code } } }",
}
# Who races in each round, in turn: everyone; the suspect pair alone; with a reassignment; the
# reviewer's three transitions with the removal.
LINE_UPS = [("submit", "rework", "skip", "reassign", "remove"), ("rework", "remove"), ("rework", "reassign", "remove"),
            ("submit", "rework", "skip", "remove")]
EVENT_OF = {"submit": "SUBMITTED", "rework": "SENT_TO_REWORK", "skip": "SKIPPED", "reassign": "REASSIGNED"}


async def log_rows(database_url: str, campaign: str, task: str, after: int) -> list[tuple[int, str]]:
    """(seq, kind) of the task's rows of the campaign's log after seq `after`, read from the database."""
    query = "SELECT seq, kind FROM campaign_event WHERE campaign_id = {} AND task_id = {} AND seq > {} ORDER BY seq"
    args = (decode_id(campaign, "Campaign"), decode_id(task, "Task"), after)
    if database_url.startswith("sqlite://"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite://"))
        try:
            return conn.execute(query.format("?", "?", "?"), args).fetchall()
        finally:
            conn.close()
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        return [tuple(r) for r in await conn.fetch(query.format("$1", "$2", "$3"), *args)]
    finally:
        await conn.close()


async def race(base: str, calls: list[tuple[str, str, dict]]) -> dict[str, list[str]]:
    """Each (name, token, input) from its own connected client, sent together: name -> error codes."""
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=60)) for _ in calls]
        await asyncio.gather(*(client.get("/health") for client in clients))
        responses = await asyncio.gather(*(
            client.post("/graphql", json={"query": RACERS[name], "variables": {"i": variables}},
                        headers={"authorization": f"Bearer {token}"})
            for client, (name, token, variables) in zip(clients, calls, strict=True)))
    outcome = {}
    for response, (name, _, _) in zip(responses, calls, strict=True):
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body  # never a top-level error (no "database is locked", no deadlock)
        outcome[name] = [e["code"] for e in next(iter(body["data"].values()))["errors"]]
    return outcome


async def run_rounds(base: str, database_url: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        api = Api(client)
        world = await build_world(api)
        ids = world.ids
        result = await api.data(ADD_WORKER, {"i": {"datasetId": ids["dataset"], "userId": ids["member"]}}, world.manager)
        assert result["addDatasetWorker"]["errors"] == []
        await add_assets(api, world, [f"{i}.jpg" for i in range(ROUNDS)])
        campaign, steps = await campaign_with_steps(api, world, STEPS)
        assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
        tasks = [t["id"] for t in await all_tasks(api, world, campaign)]
        reviewers = await log_in(api, "contributor1", 3)
        outcomes = []
        for task in tasks:
            # X takes the task and submits it to Review: X holds it there, and holds no active task.
            for query, variables, token in ((REASSIGN, {"taskId": task, "assigneeId": ids["labeler"]}, world.manager),
                                            (SUBMIT, {"taskId": task}, world.labeler)):
                payload = next(iter((await api.data(query, {"i": variables}, token)).values()))
                assert payload["errors"] == [], payload
            before = (await api.data(STATE, {"t": task}, world.manager))["task"]
            assert before["step"]["name"] == "Review" and before["assignee"]["username"] == "contributor1"
            seq = max((row[0] for row in await log_rows(database_url, campaign, task, 0)), default=0)
            calls = {
                "submit": (reviewers[0], {"taskId": task}),
                "rework": (reviewers[1], {"taskId": task, "issue": ISSUE}),
                "skip": (reviewers[2], {"taskId": task, "issue": ISSUE}),
                "reassign": (world.manager, {"taskId": task, "assigneeId": ids["member"]}),
                "remove": (world.admin, {"datasetId": ids["dataset"], "userId": ids["labeler"]}),
            }
            racers = LINE_UPS[len(outcomes) % len(LINE_UPS)]
            outcome = await race(base, [(name, *calls[name]) for name in racers])
            outcomes.append(outcome)
            won = [name for name, codes in outcome.items() if not codes]
            assert len([n for n in won if n in ("submit", "rework", "skip")]) <= 1, outcome
            after = (await api.data(STATE, {"t": task}, world.manager))["task"]
            events = after["events"][len(before["events"]):]
            kinds = [e["kind"] for e in events]
            expected = sorted([EVENT_OF[n] for n in won if n != "remove"] + (["DONE"] if "submit" in won else []))
            assert sorted(kinds) == expected, (outcome, kinds)
            assert after["version"] == before["version"] + len([n for n in won if n != "remove"]), (outcome, after)
            last = events[-1] if events else before["events"][-1]
            assert after["assignee"] == last["assignee"], (outcome, after, last)
            place = ("Annotate", "TO_REWORK") if "rework" in won else (None, "DONE") if "submit" in won \
                else (None, "SKIPPED") if "skip" in won else ("Review", "IN_PROGRESS")
            assert ((after["step"] or {}).get("name"), after["status"]) == place, (outcome, after)
            rows = await log_rows(database_url, campaign, task, seq)
            assert sorted(r[1] for r in rows) == expected, (outcome, rows)
            if "remove" in won:  # the suspect: a rework gave the task back to X after X was removed
                assert not (after["status"] in ("IN_PROGRESS", "TO_REWORK") and after["assignee"] == {"username": "labeler1"}), \
                    (outcome, after)
                # X back on the dataset and the Annotate step for the next round.
                result = await api.data(ADD_WORKER, {"i": {"datasetId": ids["dataset"], "userId": ids["labeler"]}}, world.manager)
                assert result["addDatasetWorker"]["errors"] == []
                result = await api.data(UPDATE_STEP, {"i": {"stepId": steps[0], "assigneeIds": [ids["labeler"], ids["member"]]}},
                                        world.manager)
                assert result["updateStep"]["errors"] == []
            elif after["status"] in ("IN_PROGRESS", "TO_REWORK") and after["assignee"] == {"username": "labeler1"}:
                # The rework went back to X: X submits it so as to hold nothing in the next round.
                payload = (await api.data(SUBMIT, {"i": {"taskId": task}}, world.labeler))["submitTask"]
                assert payload["errors"] == [], payload
        print("\nrace winners per round:", [sorted(n for n, c in o.items() if not c) for o in outcomes])


async def test_racing_transitions_and_worker_removal_on_postgres(settings_env):
    if not settings_env["STEPWISE_DATABASE_URL"].startswith("postgres"):
        pytest.skip("the SQLite variant is the two-process test below")
    with running_server({**settings_env, "STEPWISE_BROKER_URL": redis_url()}, "--workers", "2") as base:
        await run_rounds(base, settings_env["STEPWISE_DATABASE_URL"])


async def test_racing_transitions_and_worker_removal_on_two_sqlite_processes(migrated_sqlite_url, tmp_path):
    env = {"STEPWISE_DATABASE_URL": migrated_sqlite_url, "STEPWISE_DATA_DIR": str(tmp_path),
           "STEPWISE_BROKER_URL": redis_url(), **SQLITE_SETTINGS}
    with running_server(env, "--workers", "2") as base:
        await run_rounds(base, migrated_sqlite_url)


class HeldRowLock:
    """A transaction holding one row's lock (released by `release()`, rolled back), and a second
    connection that counts the sessions of the database waiting on a lock."""

    def __init__(self, url: str) -> None:
        self.url, self.database = url.replace("postgres://", "postgresql://", 1), url.rsplit("/", 1)[1]

    async def __aenter__(self) -> HeldRowLock:
        self.blocker, self.watcher = await asyncpg.connect(self.url), await asyncpg.connect(self.url)
        self.transaction = self.blocker.transaction()
        await self.transaction.start()
        return self

    async def lock(self, table: str, row_id: int) -> None:
        await self.blocker.execute(f"SELECT 1 FROM {table} WHERE id = $1 FOR UPDATE", row_id)

    async def waiting(self) -> int:
        return await self.watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", self.database)

    async def release(self) -> None:
        await self.transaction.rollback()

    async def __aexit__(self, *exc) -> None:
        await self.blocker.close()
        await self.watcher.close()


async def test_a_rework_back_to_a_worker_being_removed_is_serialized_with_the_removal(api, settings_env):
    """PostgreSQL, made deterministic: the rework has read who submitted the task at Annotate (X)
    and waits (the test holds the task's row lock) while X's removal runs. The removal must wait
    for the rework (both lock the step) and then refuse X, who holds the task again (INVALID_STATE);
    before the fix it committed, and X, no longer a worker, got an active task."""
    url = settings_env["STEPWISE_DATABASE_URL"]
    if not url.startswith("postgres"):
        pytest.skip("SQLite runs one write transaction at a time: nothing can interleave")
    world = await build_world(api)
    ids = world.ids
    assert (await api.data(ADD_WORKER, {"i": {"datasetId": ids["dataset"], "userId": ids["member"]}}, world.manager)
            )["addDatasetWorker"]["errors"] == []
    await add_assets(api, world, ["0.jpg"])
    campaign, _ = await campaign_with_steps(api, world, STEPS)
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    [task] = [t["id"] for t in await all_tasks(api, world, campaign)]
    assert (await api.data(SUBMIT, {"i": {"taskId": task}}, world.labeler))["submitTask"]["errors"] == []
    # The issue exists beforehand: the rework opens none (opening one locks more than the task).
    asset = (await api.data("query($t: ID!) { task(id: $t) { asset { id } } }", {"t": task}, world.manager))["task"]["asset"]["id"]
    created = await api.data("mutation($i: CreateIssueInput!) { createIssue(input: $i) { errors { code } } }",
                             {"i": {"assetId": asset, **ISSUE}}, world.contributor)
    assert created["createIssue"]["errors"] == []
    async with HeldRowLock(url) as held:
        await held.lock("task", decode_id(task, "Task"))
        rework = asyncio.create_task(api.data(RACERS["rework"], {"i": {"taskId": task}}, world.contributor))
        while await held.waiting() < 1:  # the rework waits on the task's row
            await asyncio.sleep(0.02)
        remove = asyncio.create_task(api.data(RACERS["remove"], {"i": {"datasetId": ids["dataset"], "userId": ids["labeler"]}},
                                              world.manager))
        for _ in range(100):  # the removal either finishes (the race lost) or waits on a lock too
            if remove.done() or await held.waiting() >= 2:
                break
            await asyncio.sleep(0.02)
        await held.release()
        reworked, removed = await rework, await remove
    assert reworked["sendTaskToRework"]["errors"] == []
    assert [e["code"] for e in removed["removeDatasetWorker"]["errors"]] == ["INVALID_STATE"], removed
    state = (await api.data(STATE, {"t": task}, world.manager))["task"]
    assert (state["status"], state["assignee"]) == ("TO_REWORK", {"username": "labeler1"})


async def test_a_yolo_import_and_the_acceptance_of_the_same_asset_keep_the_quality_counts(api, settings_env):
    """PostgreSQL, made deterministic: a YOLO import replacing an asset's annotation and the
    final submit of that asset's task (the workflow's end writes the task's annotation to the
    asset) both take the old annotation's shapes out of the quality counts and add the new ones.
    The test holds the asset's row lock until both wait on a lock, then lets go. Before the fix
    both read the old annotation before waiting (on the asset's UPDATE), so its shapes were taken
    out twice; now each locks the asset first, and the second one reads what the first wrote."""
    url = settings_env["STEPWISE_DATABASE_URL"]
    if not url.startswith("postgres"):
        pytest.skip("SQLite runs one write transaction at a time: nothing can interleave")
    world = await build_world(api)
    [asset] = await add_assets(api, world, ["a.jpg"], annotated=["a.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])])
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    [task] = [t["id"] for t in await all_tasks(api, world, campaign)]
    polygon = {"label": "person", "kind": "POLYGON", "points": [{"x": 1, "y": 1}, {"x": 50, "y": 1}, {"x": 9, "y": 60}]}
    labels = yolo_zip({"labels/a.txt": "0 0.5 0.5 0.2 0.4\n0 0.2 0.2 0.3 0.3\n"})
    async with HeldRowLock(url) as held:
        await held.lock("asset", decode_id(asset["id"], "Asset"))
        submit = asyncio.create_task(api.data(SUBMIT, {"i": {"taskId": task, "shapes": [polygon]}}, world.labeler))
        imported = asyncio.create_task(import_file(api, world.manager, world.ids["version"], "YOLO", labels, "labels.zip"))
        waiting = 0
        for _ in range(500):  # both wait on the asset's row (a failure would end either early)
            waiting = await held.waiting()
            if submit.done() or imported.done() or waiting >= 2:
                break
            await asyncio.sleep(0.02)
        await held.release()
        submitted, result = await submit, await imported
    assert submitted["submitTask"]["errors"] == [] and result["errors"] == []
    assert waiting == 2  # the interleaving happened: both read nothing of the asset before it
    [last] = await Asset.filter(id=decode_id(asset["id"], "Asset")).values_list("annotation", flat=True)
    assert [s["kind"] for s in last] in (["POLYGON"], ["RECTANGLE", "RECTANGLE"])  # one of the two wrote last, whole
    await assert_quality_counts_match_a_rebuild()
