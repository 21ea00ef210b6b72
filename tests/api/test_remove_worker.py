"""removeDatasetWorker (RULES.md, Transitions): MANAGER only, refused while the worker holds active
tasks (INVALID_STATE), for a non-worker (NOT_A_WORKER) and for the last assignee of a step of a
launched campaign (NO_ASSIGNEES); a refusal changes nothing; a removal takes the user off every
step of the dataset's campaigns and takes effect at once."""

from __future__ import annotations

import pytest

from campaign_helpers import ISSUE, LAUNCH, REASSIGN, REWORK, START, SUBMIT, act, add_assets, all_tasks, campaign_with_steps
from stepwise.schema.ids import encode_id

REMOVE = """mutation($i: RemoveDatasetWorkerInput!) { removeDatasetWorker(input: $i) {
  dataset { id name } errors { code field message } } }"""
STATE = """query($d: ID!, $c: ID!) { dataset(id: $d) { workers { role user { username } } }
  campaign(id: $c) { steps { name assignees { username } } } }"""
CAMPAIGN = "query($c: ID!) { campaign(id: $c) { id } }"


async def remove(api, world, user: str, token=None) -> dict:
    data = await api.data(REMOVE, {"i": {"datasetId": world.ids["dataset"], "userId": user}}, token or world.manager)
    return data["removeDatasetWorker"]


async def launched(api, world, steps=(("Annotate", "ANNOTATION", ["labeler1", "contributor1"]),
                                      ("Review", "REVIEW", ["manager1"]))):
    await add_assets(api, world, ["a.jpg", "b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, list(steps))
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    return campaign, await all_tasks(api, world, campaign)


async def state(api, world, campaign) -> dict:
    return await api.data(STATE, {"d": world.ids["dataset"], "c": campaign}, world.admin)


async def test_a_worker_with_active_tasks_is_invalid_state_and_nothing_changes(api, world):
    campaign, tasks = await launched(api, world)
    assert {t["assignee"]["username"] for t in tasks} == {"labeler1", "contributor1"}
    before = await state(api, world, campaign)
    refused = await remove(api, world, world.ids["contributor"])
    assert refused == {"dataset": None, "errors": [
        {"code": "INVALID_STATE", "field": "input.userId", "message": refused["errors"][0]["message"]}]}
    assert await state(api, world, campaign) == before
    assert (await api.data(CAMPAIGN, {"c": campaign}, world.contributor))["campaign"]["id"] == campaign


async def test_a_removed_worker_is_off_every_step_and_sees_nothing_at_once(api, world):
    campaign, tasks = await launched(api, world)
    theirs = next(t for t in tasks if t["assignee"]["username"] == "contributor1")
    moved = await act(api, REASSIGN, {"taskId": theirs["id"], "assigneeId": world.ids["labeler"]}, world.manager)
    assert moved["errors"] == []
    done = await remove(api, world, world.ids["contributor"])
    assert done == {"dataset": {"id": world.ids["dataset"], "name": "Streets"}, "errors": []}
    after = await state(api, world, campaign)
    assert [w["user"]["username"] for w in after["dataset"]["workers"]] == ["manager1", "labeler1"]
    assert [[a["username"] for a in s["assignees"]] for s in after["campaign"]["steps"]] == [["labeler1"], ["manager1"]]
    # Queries and mutations treat them as a non-worker at once.
    body = await api.post(CAMPAIGN, {"c": campaign}, world.contributor)
    assert body["data"]["campaign"] is None and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await api.post(START, {"i": {"taskId": theirs["id"]}}, world.contributor)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # Removing them again: they are not a worker any more.
    assert (await remove(api, world, world.ids["contributor"]))["errors"][0]["code"] == "NOT_A_WORKER"


async def test_not_a_worker_for_members_outside_the_dataset_and_unknown_users(api, world):
    for user in (world.ids["member"], world.ids["outsider"], encode_id("User", 987_654)):
        refused = await remove(api, world, user)
        assert [e["code"] for e in refused["errors"]] == ["NOT_A_WORKER"] and refused["dataset"] is None


async def test_the_last_assignee_of_a_step_of_a_launched_campaign_is_no_assignees(api, world):
    campaign, _ = await launched(api, world)
    before = await state(api, world, campaign)
    refused = await remove(api, world, world.ids["manager"], token=world.admin)  # Review's only assignee
    assert [e["code"] for e in refused["errors"]] == ["NO_ASSIGNEES"]
    assert await state(api, world, campaign) == before


async def test_the_sole_assignee_of_a_draft_step_may_go_and_launch_then_refuses(api, world):
    await add_assets(api, world, ["a.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["contributor1"])])
    assert (await remove(api, world, world.ids["contributor"]))["errors"] == []
    launch = (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]
    assert [e["code"] for e in launch["errors"]] == ["NO_ASSIGNEES"]


async def test_round_robin_keeps_its_turn_when_an_earlier_assignee_goes(api, world):
    """Annotate [contributor, member, labeler] round robin: a → contributor, b → member; the turn is
    the labeler's. The contributor (done with a) goes: c still goes to the labeler, d to the member."""
    await api.data("mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { errors { code } } }",
                   {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["member"]}}, world.manager)
    campaign, tasks = await launched(api, world, [("Annotate", "ANNOTATION", ["contributor1", "member1", "labeler1"])])
    theirs = next(t for t in tasks if t["assignee"]["username"] == "contributor1")
    assert (await act(api, REASSIGN, {"taskId": theirs["id"], "assigneeId": world.ids["member"]}, world.manager))["errors"] == []
    assert (await remove(api, world, world.ids["contributor"]))["errors"] == []
    await add_assets(api, world, ["c.jpg", "d.jpg"])
    new = {t["asset"]["filename"]: t["assignee"]["username"] for t in await all_tasks(api, world, campaign)}
    assert (new["c.jpg"], new["d.jpg"]) == ("labeler1", "member1")


async def test_only_a_manager_may_remove_a_worker(api, world):
    body = await api.post(REMOVE, {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["labeler"]}}, world.contributor)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api.post(REMOVE, {"i": {"datasetId": world.ids["dataset"], "userId": world.ids["labeler"]}}, world.outsider)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_rework_after_the_removal_goes_to_a_current_assignee(api, world):
    """b was submitted at Annotate by the contributor, who is then removed: a rework of b goes to
    the step's remaining assignee, not back to a non-worker."""
    _, tasks = await launched(api, world)
    theirs = next(t for t in tasks if t["assignee"]["username"] == "contributor1")
    assert (await act(api, SUBMIT, {"taskId": theirs["id"]}, world.contributor))["errors"] == []
    assert (await remove(api, world, world.ids["contributor"]))["errors"] == []
    reworked = await act(api, REWORK, {"taskId": theirs["id"], "issue": ISSUE}, world.manager)
    assert reworked["errors"] == [] and reworked["task"]["assignee"] == {"username": "labeler1"}


async def test_on_postgres_a_reassign_to_the_worker_in_flight_is_seen_by_the_removal(api, world, settings_env):
    """A reassign to the worker holds a share lock on their worker row until it commits (as
    models/actions/reassign.py does, played here on a connection of our own); the removal waits
    for it, then sees the task it gave them: INVALID_STATE, not a task held by a non-worker."""
    import asyncio

    import asyncpg

    from stepwise.schema.ids import decode_id

    url = settings_env["STEPWISE_DATABASE_URL"]
    if not url.startswith("postgres"):
        pytest.skip("row locks are PostgreSQL's; SQLite runs one write transaction at a time")
    _, tasks = await launched(api, world)
    theirs = next(t for t in tasks if t["assignee"]["username"] == "contributor1")
    assert (await act(api, REASSIGN, {"taskId": theirs["id"], "assigneeId": world.ids["labeler"]}, world.manager))["errors"] == []
    dataset, contributor = decode_id(world.ids["dataset"], "Dataset"), decode_id(world.ids["contributor"], "User")
    reassign = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        in_flight = reassign.transaction()
        await in_flight.start()
        assert await reassign.fetch("SELECT 1 FROM dataset_worker WHERE dataset_id = $1 AND user_id = $2 FOR SHARE",
                                    dataset, contributor)
        removal = asyncio.create_task(remove(api, world, world.ids["contributor"]))
        while not await reassign.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
            assert not removal.done(), removal.result()  # it must wait for the lock
            await asyncio.sleep(0.01)
        await reassign.execute("UPDATE task SET assignee_id = $1 WHERE id = $2", contributor, decode_id(theirs["id"], "Task"))
        await in_flight.commit()
        assert [e["code"] for e in (await removal)["errors"]] == ["INVALID_STATE"]
    finally:
        await reassign.close()
