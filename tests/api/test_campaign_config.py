"""Configuring and launching a campaign through the API: creation, the workflow of steps, settings,
launch (refusals, strategies, attribution, atomicity), OVERDUE, new assets and progress."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from campaign_helpers import (
    ADD_STEP,
    BOX,
    CREATE,
    LAUNCH,
    PROGRESS,
    REASSIGN,
    REMOVE_STEP,
    SUBMIT,
    UPDATE,
    UPDATE_STEP,
    act,
    add_assets,
    all_tasks,
    campaign_with_steps,
)
from stepwise.models import clock as server_clock
from stepwise.models.actions import launch as launch_module
from stepwise.models.db import sql as real_sql

CAMPAIGN = """query($c: ID!) { campaign(id: $c) { id status launchedAt completedAt dueDate newAssetPolicy attributionPolicy
  preexistingAnnotationStrategy closeToNewAssetsWhenInitialTasksDone
  steps { id name type position assignees { username } } tasks(first: 500) { totalCount } } }"""
VERSION_CAMPAIGN = "query($v: ID!) { datasetVersion(id: $v) { name campaign { id status } } }"
NEW_VERSION = """mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) {
  datasetVersion { id } errors { code } } }"""
DETAILED_TASKS = """query($c: ID!) { campaign(id: $c) { tasks(first: 500) { edges { node {
  status step { name } assignee { username } annotation { shapes { kind } }
  asset { filename annotation { shapes { kind } } }
  events { kind step { name } actor { username } assignee { username } } } } } } }"""
VERSION_ASSETS = """query($v: ID!) { datasetVersion(id: $v) { assets(first: 500) {
  edges { node { filename annotation { shapes { kind } } task { status } } } } } }"""


def user_ids(world) -> dict[str, str]:
    return {f"{name}1": world.ids[name] for name in ("admin", "manager", "contributor", "labeler", "member", "outsider")}


async def asset_tasks(api, world) -> dict[str, str | None]:
    """Each asset of the world's version: the status of its task, or None without one."""
    data = await api.data(VERSION_ASSETS, {"v": world.ids["version"]}, world.manager)
    nodes = [edge["node"] for edge in data["datasetVersion"]["assets"]["edges"]]
    return {n["filename"]: n["task"] and n["task"]["status"] for n in nodes}


def code_of(body: dict) -> str:
    """The code of a top-level GraphQL error."""
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


async def campaign_state(api, world, campaign: str) -> dict:
    return (await api.data(CAMPAIGN, {"c": campaign}, world.manager))["campaign"]


def step_names(state: dict) -> list[tuple[str, int]]:
    return [(s["name"], s["position"]) for s in state["steps"]]


async def add_step(api, world, campaign, name, step_type="ANNOTATION", assignees=("labeler1",), position=None) -> dict:
    ids = user_ids(world)
    variables = {"campaignId": campaign, "name": name, "type": step_type, "assigneeIds": [ids[u] for u in assignees]}
    if position is not None:
        variables["position"] = position
    return (await api.data(ADD_STEP, {"i": variables}, world.manager))["addStep"]


async def update_step(api, world, step_id, **changes) -> dict:
    if "assignees" in changes:
        ids = user_ids(world)
        changes["assigneeIds"] = [ids[u] for u in changes.pop("assignees")]
    return (await api.data(UPDATE_STEP, {"i": {"stepId": step_id, **changes}}, world.manager))["updateStep"]


async def update_campaign(api, world, campaign, **settings) -> dict:
    return (await api.data(UPDATE, {"i": {"campaignId": campaign, **settings}}, world.manager))["updateCampaign"]


async def launch(api, world, campaign) -> dict:
    return (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]


async def detailed_tasks(api, world, campaign) -> list[dict]:
    """The campaign's tasks by asset filename (tasks created together have no order between them)."""
    data = await api.data(DETAILED_TASKS, {"c": campaign}, world.manager)
    return sorted((edge["node"] for edge in data["campaign"]["tasks"]["edges"]), key=lambda t: t["asset"]["filename"])


def shapes(annotation: dict | None) -> list[str] | None:
    return None if annotation is None else [s["kind"] for s in annotation["shapes"]]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.fixture
def shifted_clock():
    """The server's clock, shifted by `offset["by"]` from real time; restored afterwards."""
    offset = {"by": timedelta(0)}
    server_clock.set_clock(lambda: datetime.now(UTC) + offset["by"])
    yield offset
    server_clock.set_clock(None)


# ---------------------------------------------------------------- createCampaign


async def test_create_campaign_by_role_once_per_version(api, world):
    version = world.ids["version"]
    assert (await api.data(VERSION_CAMPAIGN, {"v": version}, world.manager))["datasetVersion"]["campaign"] is None

    # Refused: a CONTRIBUTOR sees the version but may not configure; an outsider does not see it.
    forbidden = await api.post(CREATE, {"v": version}, world.contributor)
    assert code_of(forbidden) == "FORBIDDEN"
    hidden = await api.post(CREATE, {"v": version}, world.outsider)
    assert code_of(hidden) == "NOT_FOUND"
    assert (await api.data(VERSION_CAMPAIGN, {"v": version}, world.manager))["datasetVersion"]["campaign"] is None

    created = (await api.data(CREATE, {"v": version}, world.manager))["createCampaign"]
    assert created["errors"] == []
    assert created["campaign"]["status"] == "DRAFT"
    shown = (await api.data(VERSION_CAMPAIGN, {"v": version}, world.contributor))["datasetVersion"]["campaign"]
    assert shown == {"id": created["campaign"]["id"], "status": "DRAFT"}

    again = (await api.data(CREATE, {"v": version}, world.admin))["createCampaign"]
    assert again["campaign"] is None
    assert [e["code"] for e in again["errors"]] == ["ALREADY_EXISTS"]
    shown = (await api.data(VERSION_CAMPAIGN, {"v": version}, world.manager))["datasetVersion"]["campaign"]
    assert shown["id"] == created["campaign"]["id"]

    # An organization ADMIN acts as MANAGER without being listed as a worker.
    v2 = (await api.data(NEW_VERSION, {"i": {"datasetId": world.ids["dataset"], "name": "v2", "labels": ["car"]}},
                         world.manager))["createDatasetVersion"]["datasetVersion"]["id"]
    by_admin = (await api.data(CREATE, {"v": v2}, world.admin))["createCampaign"]
    assert by_admin["errors"] == [] and by_admin["campaign"]["status"] == "DRAFT"
    assert by_admin["campaign"]["id"] != created["campaign"]["id"]
    shown = (await api.data(VERSION_CAMPAIGN, {"v": v2}, world.manager))["datasetVersion"]
    assert shown == {"name": "v2", "campaign": {"id": by_admin["campaign"]["id"], "status": "DRAFT"}}


# ---------------------------------------------------------------- steps


async def test_step_positions_stay_dense_through_insert_move_and_remove(api, world):
    campaign, _ = await campaign_with_steps(api, world, [])
    ids = {}
    for name in ("A", "B", "C"):
        added = await add_step(api, world, campaign, name)
        assert added["errors"] == []
        ids[name] = added["step"]["id"]
    assert added["campaign"]["steps"] == [{"name": "A", "position": 0}, {"name": "B", "position": 1},
                                          {"name": "C", "position": 2}]

    inserted = await add_step(api, world, campaign, "D", "REVIEW", ["manager1"], position=1)
    assert inserted["errors"] == []
    assert inserted["step"]["position"] == 1 and inserted["step"]["type"] == "REVIEW"
    ids["D"] = inserted["step"]["id"]
    assert step_names(await campaign_state(api, world, campaign)) == [("A", 0), ("D", 1), ("B", 2), ("C", 3)]

    first = await add_step(api, world, campaign, "E", position=0)
    ids["E"] = first["step"]["id"]
    at_end = await add_step(api, world, campaign, "F", position=5)
    assert at_end["errors"] == [] and at_end["step"]["position"] == 5
    ids["F"] = at_end["step"]["id"]
    assert step_names(await campaign_state(api, world, campaign)) == [
        ("E", 0), ("A", 1), ("D", 2), ("B", 3), ("C", 4), ("F", 5)]

    # Out of range: past the end, or negative; nothing changes.
    for position in (7, -1):
        refused = await add_step(api, world, campaign, "X", position=position)
        assert refused["step"] is None
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "input.position")]
    assert step_names(await campaign_state(api, world, campaign)) == [
        ("E", 0), ("A", 1), ("D", 2), ("B", 3), ("C", 4), ("F", 5)]

    # Move C to the front, E to the end.
    moved = await update_step(api, world, ids["C"], position=0)
    assert moved["errors"] == [] and moved["step"]["position"] == 0
    assert moved["campaign"]["steps"] == [{"name": n, "position": i} for i, n in enumerate("CEADBF")]
    moved = await update_step(api, world, ids["E"], position=5)
    assert moved["errors"] == [] and moved["step"]["position"] == 5
    assert step_names(await campaign_state(api, world, campaign)) == [(n, i) for i, n in enumerate("CADBFE")]
    for position in (6, -1):
        refused = await update_step(api, world, ids["A"], position=position, name="renamed")
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "input.position")]
        assert refused["step"] is None
    assert step_names(await campaign_state(api, world, campaign)) == [(n, i) for i, n in enumerate("CADBFE")]

    # Remove a middle step, then the first and the last: the rest close up.
    removed = (await api.data(REMOVE_STEP, {"i": {"stepId": ids["D"]}}, world.manager))["removeStep"]
    assert removed["errors"] == []
    assert removed["campaign"]["steps"] == [{"name": n, "position": i} for i, n in enumerate("CABFE")]
    for name in ("C", "E"):
        assert (await api.data(REMOVE_STEP, {"i": {"stepId": ids[name]}}, world.manager))["removeStep"]["errors"] == []
    state = await campaign_state(api, world, campaign)
    assert step_names(state) == [("A", 0), ("B", 1), ("F", 2)]
    # The removed step is gone for good.
    gone = await api.post(UPDATE_STEP, {"i": {"stepId": ids["D"], "name": "back"}}, world.manager)
    assert code_of(gone) == "NOT_FOUND"


async def test_step_assignees_must_be_distinct_workers(api, world):
    campaign, (step,) = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])])

    not_worker = await add_step(api, world, campaign, "Review", "REVIEW", ["manager1", "member1"])
    assert not_worker["step"] is None
    assert [(e["code"], e["field"]) for e in not_worker["errors"]] == [("NOT_A_WORKER", "input.assigneeIds.1")]
    outsider = await add_step(api, world, campaign, "Review", "REVIEW", ["outsider1"])
    assert [(e["code"], e["field"]) for e in outsider["errors"]] == [("NOT_A_WORKER", "input.assigneeIds.0")]
    duplicate = await add_step(api, world, campaign, "Review", "REVIEW", ["manager1", "contributor1", "manager1"])
    assert [(e["code"], e["field"]) for e in duplicate["errors"]] == [("INVALID_INPUT", "input.assigneeIds")]
    assert step_names(await campaign_state(api, world, campaign)) == [("Annotate", 0)]

    refused = await update_step(api, world, step, assignees=["contributor1", "member1"], name="Draw")
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("NOT_A_WORKER", "input.assigneeIds.1")]
    refused = await update_step(api, world, step, assignees=["labeler1", "labeler1"])
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "input.assigneeIds")]
    state = await campaign_state(api, world, campaign)
    assert [(s["name"], [a["username"] for a in s["assignees"]]) for s in state["steps"]] == [("Annotate", ["labeler1"])]

    # The listed order is kept.
    changed = await update_step(api, world, step, assignees=["manager1", "labeler1", "contributor1"])
    assert changed["errors"] == []
    assert [a["username"] for a in changed["step"]["assignees"]] == ["manager1", "labeler1", "contributor1"]


async def test_after_launch_only_step_name_and_assignees_change(api, world):
    await add_assets(api, world, ["a.jpg"])
    campaign, (annotate, review) = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1"]), ("Review", "REVIEW", ["manager1"])])
    assert (await launch(api, world, campaign))["errors"] == []

    renamed = await update_step(api, world, annotate, name="Draw", assignees=["contributor1", "labeler1"])
    assert renamed["errors"] == []
    assert renamed["step"]["name"] == "Draw"
    assert [a["username"] for a in renamed["step"]["assignees"]] == ["contributor1", "labeler1"]

    expected = [("Draw", "ANNOTATION", 0, ["contributor1", "labeler1"]), ("Review", "REVIEW", 1, ["manager1"])]

    def summary(state):
        return [(s["name"], s["type"], s["position"], [a["username"] for a in s["assignees"]]) for s in state["steps"]]

    assert summary(await campaign_state(api, world, campaign)) == expected

    refusals = [
        await update_step(api, world, annotate, type="REVIEW"),
        await update_step(api, world, annotate, type="REVIEW", name="Changed"),
        await update_step(api, world, review, position=0),
        await update_step(api, world, review, position=0, assignees=["contributor1"]),
        await add_step(api, world, campaign, "Extra", "REVIEW", ["manager1"]),
        (await api.data(REMOVE_STEP, {"i": {"stepId": review}}, world.manager))["removeStep"],
    ]
    for refused in refusals:
        assert [e["code"] for e in refused["errors"]] == ["INVALID_STATE"], refused
        assert refused.get("step") is None
    assert summary(await campaign_state(api, world, campaign)) == expected
    # Assignees still go through the worker check after launch.
    refused = await update_step(api, world, review, assignees=["member1"])
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("NOT_A_WORKER", "input.assigneeIds.0")]
    assert summary(await campaign_state(api, world, campaign)) == expected


# ---------------------------------------------------------------- settings


async def test_every_setting_round_trips(api, world):
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])])
    due = "2031-03-04T05:06:07Z"
    updated = await update_campaign(
        api, world, campaign, newAssetPolicy="IGNORE", attributionPolicy="LEAST_LOADED",
        preexistingAnnotationStrategy="FIRST_QUALITY_CHECK", dueDate=due, closeToNewAssetsWhenInitialTasksDone=True)
    assert updated["errors"] == []
    state = await campaign_state(api, world, campaign)
    assert (state["newAssetPolicy"], state["attributionPolicy"], state["preexistingAnnotationStrategy"],
            state["closeToNewAssetsWhenInitialTasksDone"], state["status"]) == (
        "IGNORE", "LEAST_LOADED", "FIRST_QUALITY_CHECK", True, "DRAFT")
    assert parse_time(state["dueDate"]) == datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)

    # Only what is given changes.
    updated = await update_campaign(api, world, campaign, attributionPolicy="ROUND_ROBIN")
    assert updated["errors"] == []
    state = await campaign_state(api, world, campaign)
    assert (state["newAssetPolicy"], state["attributionPolicy"], state["preexistingAnnotationStrategy"],
            state["closeToNewAssetsWhenInitialTasksDone"]) == ("IGNORE", "ROUND_ROBIN", "FIRST_QUALITY_CHECK", True)
    assert parse_time(state["dueDate"]) == datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)

    # A due date with another offset is the same instant.
    updated = await update_campaign(api, world, campaign, dueDate="2031-03-04T07:06:07+02:00", newAssetPolicy="ADD_TO_CAMPAIGN",
                                    preexistingAnnotationStrategy="DONE", closeToNewAssetsWhenInitialTasksDone=False)
    assert updated["errors"] == []
    state = await campaign_state(api, world, campaign)
    assert (state["newAssetPolicy"], state["preexistingAnnotationStrategy"],
            state["closeToNewAssetsWhenInitialTasksDone"]) == ("ADD_TO_CAMPAIGN", "DONE", False)
    assert parse_time(state["dueDate"]) == datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)

    # Both a due date and clearing it: refused, nothing changed.
    both = await update_campaign(api, world, campaign, dueDate="2032-01-01T00:00:00Z", clearDueDate=True,
                                 attributionPolicy="LEAST_LOADED")
    assert both["campaign"] is None
    assert [e["code"] for e in both["errors"]] == ["INVALID_INPUT"]
    state = await campaign_state(api, world, campaign)
    assert parse_time(state["dueDate"]) == datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert state["attributionPolicy"] == "ROUND_ROBIN"

    cleared = await update_campaign(api, world, campaign, clearDueDate=True)
    assert cleared["errors"] == [] and cleared["campaign"]["dueDate"] is None
    assert (await campaign_state(api, world, campaign))["dueDate"] is None


async def test_preexisting_strategy_is_fixed_after_launch_other_settings_are_not(api, world):
    await add_assets(api, world, ["a.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])],
                                            preexistingAnnotationStrategy="BACK_TO_ANNOTATION")
    assert (await launch(api, world, campaign))["errors"] == []

    refused = await update_campaign(api, world, campaign, preexistingAnnotationStrategy="DONE", newAssetPolicy="IGNORE")
    assert refused["campaign"] is None
    assert [e["code"] for e in refused["errors"]] == ["INVALID_STATE"]
    state = await campaign_state(api, world, campaign)
    assert (state["preexistingAnnotationStrategy"], state["newAssetPolicy"]) == ("BACK_TO_ANNOTATION", "ADD_TO_CAMPAIGN")

    changed = await update_campaign(api, world, campaign, newAssetPolicy="IGNORE", attributionPolicy="LEAST_LOADED",
                                    dueDate="2040-01-01T00:00:00Z", closeToNewAssetsWhenInitialTasksDone=True)
    assert changed["errors"] == []
    state = await campaign_state(api, world, campaign)
    assert (state["newAssetPolicy"], state["attributionPolicy"], state["closeToNewAssetsWhenInitialTasksDone"],
            state["preexistingAnnotationStrategy"], state["status"]) == (
        "IGNORE", "LEAST_LOADED", True, "BACK_TO_ANNOTATION", "ONGOING")
    assert parse_time(state["dueDate"]) == datetime(2040, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------- launch refusals


async def assert_untouched_draft(api, world, campaign) -> None:
    state = await campaign_state(api, world, campaign)
    assert state["status"] == "DRAFT"
    assert state["launchedAt"] is None and state["completedAt"] is None
    assert state["tasks"]["totalCount"] == 0


async def test_launch_refusals_leave_a_draft_without_tasks(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [])

    no_steps = await launch(api, world, campaign)
    assert no_steps["campaign"] is None and [e["code"] for e in no_steps["errors"]] == ["NO_STEPS"]
    await assert_untouched_draft(api, world, campaign)

    assert (await add_step(api, world, campaign, "Annotate", assignees=["labeler1"]))["errors"] == []
    review = (await add_step(api, world, campaign, "Review", "REVIEW", assignees=[]))["step"]["id"]
    no_assignees = await launch(api, world, campaign)
    assert no_assignees["campaign"] is None and [e["code"] for e in no_assignees["errors"]] == ["NO_ASSIGNEES"]
    await assert_untouched_draft(api, world, campaign)

    # A CONTRIBUTOR may not launch.
    assert code_of(await api.post(LAUNCH, {"c": campaign}, world.contributor)) == "FORBIDDEN"
    await assert_untouched_draft(api, world, campaign)

    assert (await update_step(api, world, review, assignees=["manager1"]))["errors"] == []
    launched = await launch(api, world, campaign)
    assert launched["errors"] == []
    assert launched["campaign"]["status"] == "ONGOING" and launched["campaign"]["launchedAt"]
    assert launched["campaign"]["completedAt"] is None

    twice = await launch(api, world, campaign)
    assert twice["campaign"] is None and [e["code"] for e in twice["errors"]] == ["INVALID_STATE"]
    state = await campaign_state(api, world, campaign)
    assert state["status"] == "ONGOING" and state["tasks"]["totalCount"] == 2
    assert state["launchedAt"] == launched["campaign"]["launchedAt"]


async def test_first_quality_check_needs_a_review_step_only_for_annotated_assets(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg"], annotated=["b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])],
                                            preexistingAnnotationStrategy="FIRST_QUALITY_CHECK")
    refused = await launch(api, world, campaign)
    assert refused["campaign"] is None and [e["code"] for e in refused["errors"]] == ["INVALID_INPUT"]
    await assert_untouched_draft(api, world, campaign)

    # With a REVIEW step it launches.
    assert (await add_step(api, world, campaign, "Review", "REVIEW", ["manager1"]))["errors"] == []
    assert (await launch(api, world, campaign))["campaign"]["status"] == "ONGOING"

    # Without annotated assets, no REVIEW step is needed.
    v2 = (await api.data(NEW_VERSION, {"i": {"datasetId": world.ids["dataset"], "name": "v2", "labels": ["car"]}},
                         world.manager))["createDatasetVersion"]["datasetVersion"]["id"]
    world.ids["version"] = v2
    await add_assets(api, world, ["c.jpg"])
    other, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])],
                                         preexistingAnnotationStrategy="FIRST_QUALITY_CHECK")
    launched = await launch(api, world, other)
    assert launched["errors"] == [] and launched["campaign"]["status"] == "ONGOING"


# ---------------------------------------------------------------- pre-existing annotation strategies


async def test_back_to_annotation_starts_everything_at_the_first_step_empty(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg"], annotated=["a.jpg", "c.jpg"])
    campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1"]), ("Review", "REVIEW", ["manager1"])],
        preexistingAnnotationStrategy="BACK_TO_ANNOTATION")
    assert (await launch(api, world, campaign))["campaign"]["status"] == "ONGOING"
    tasks = await detailed_tasks(api, world, campaign)
    assert [(t["asset"]["filename"], t["status"], t["step"]["name"], t["assignee"]["username"], shapes(t["annotation"]),
             shapes(t["asset"]["annotation"])) for t in tasks] == [
        ("a.jpg", "IN_PROGRESS", "Annotate", "labeler1", None, ["RECTANGLE"]),
        ("b.jpg", "IN_PROGRESS", "Annotate", "labeler1", None, None),
        ("c.jpg", "IN_PROGRESS", "Annotate", "labeler1", None, ["RECTANGLE"]),
    ]
    assert all([(e["kind"], e["step"]["name"], e["actor"]["username"], e["assignee"]["username"]) for e in t["events"]]
               == [("CREATED", "Annotate", "manager1", "labeler1")] for t in tasks)


async def test_first_quality_check_starts_annotated_assets_at_the_first_review(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg"], annotated=["a.jpg"])
    campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1"]), ("Refine", "ANNOTATION", ["contributor1"]),
                     ("Check", "REVIEW", ["manager1"]), ("Final", "REVIEW", ["contributor1"])],
        preexistingAnnotationStrategy="FIRST_QUALITY_CHECK")
    assert (await launch(api, world, campaign))["campaign"]["status"] == "ONGOING"
    tasks = await detailed_tasks(api, world, campaign)
    assert [(t["asset"]["filename"], t["status"], t["step"]["name"], t["assignee"]["username"], shapes(t["annotation"]),
             shapes(t["asset"]["annotation"])) for t in tasks] == [
        ("a.jpg", "IN_PROGRESS", "Check", "manager1", ["RECTANGLE"], ["RECTANGLE"]),
        ("b.jpg", "IN_PROGRESS", "Annotate", "labeler1", None, None),
    ]
    assert [(e["kind"], e["step"]["name"]) for e in tasks[0]["events"]] == [("CREATED", "Check")]

    # The reviewer passes it on unchanged: the pre-existing annotation travels to the next step.
    (annotated,) = [t for t in await all_tasks(api, world, campaign) if t["asset"]["filename"] == "a.jpg"]
    passed = await act(api, SUBMIT, {"taskId": annotated["id"]}, world.manager)
    assert passed["errors"] == []
    assert passed["task"]["step"] == {"name": "Final"} and passed["task"]["annotation"] == {"shapes": [{"kind": "RECTANGLE"}]}


async def test_done_strategy_finishes_annotated_assets_at_once(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg"], annotated=["a.jpg"])
    campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1"]), ("Review", "REVIEW", ["manager1"])],
        preexistingAnnotationStrategy="DONE")
    launched = await launch(api, world, campaign)
    assert launched["campaign"]["status"] == "ONGOING" and launched["campaign"]["completedAt"] is None
    done, open_ = await detailed_tasks(api, world, campaign)
    assert (done["asset"]["filename"], done["status"], done["step"], done["assignee"]) == ("a.jpg", "DONE", None, None)
    assert shapes(done["asset"]["annotation"]) == ["RECTANGLE"]
    assert [e["kind"] for e in done["events"]] == ["CREATED", "DONE"]
    assert (open_["asset"]["filename"], open_["status"], open_["step"]["name"]) == ("b.jpg", "IN_PROGRESS", "Annotate")
    assert [e["kind"] for e in open_["events"]] == ["CREATED"]
    progress = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]["progress"]
    assert (progress["totalTasks"], progress["done"], progress["inProgress"]) == (2, 1, 1)


async def test_campaign_with_every_task_done_at_launch_is_completed(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg"], annotated=["a.jpg", "b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])],
                                            preexistingAnnotationStrategy="DONE")
    launched = await launch(api, world, campaign)
    assert launched["errors"] == []
    assert launched["campaign"]["status"] == "COMPLETED"
    assert launched["campaign"]["launchedAt"] and launched["campaign"]["completedAt"]
    state = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]
    assert state["status"] == "COMPLETED" and state["completedAt"]
    assert (state["progress"]["done"], state["progress"]["percent"]) == (2, 100.0)


# ---------------------------------------------------------------- attribution


async def test_round_robin_follows_the_listed_order_and_continues(api, world):
    await add_assets(api, world, [f"{n}.jpg" for n in "abcde"])
    campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1", "manager1", "contributor1"]),
                     ("Review", "REVIEW", ["contributor1", "manager1"])],
        attributionPolicy="ROUND_ROBIN")
    assert (await launch(api, world, campaign))["errors"] == []
    tasks = await all_tasks(api, world, campaign)
    assert [t["assignee"]["username"] for t in tasks] == ["labeler1", "manager1", "contributor1", "labeler1", "manager1"]

    # New assets continue where the step stopped (after manager1 comes contributor1).
    await add_assets(api, world, ["f.jpg", "g.jpg"])
    tasks = await all_tasks(api, world, campaign)
    assert [(t["asset"]["filename"], t["assignee"]["username"]) for t in tasks[5:]] == [
        ("f.jpg", "contributor1"), ("g.jpg", "labeler1")]

    # Tasks entering Review cycle through its own list.
    tokens = {"labeler1": world.labeler, "manager1": world.manager, "contributor1": world.contributor}
    reviewers = []
    for task in tasks[:3]:
        moved = await act(api, SUBMIT, {"taskId": task["id"]}, tokens[task["assignee"]["username"]])
        assert moved["errors"] == [] and moved["task"]["step"] == {"name": "Review"}
        reviewers.append(moved["task"]["assignee"]["username"])
    assert reviewers == ["contributor1", "manager1", "contributor1"]
    # And a new asset still continues Annotate's cycle (after labeler1: manager1).
    await add_assets(api, world, ["h.jpg"])
    tasks = await all_tasks(api, world, campaign)
    assert (tasks[-1]["asset"]["filename"], tasks[-1]["assignee"]["username"]) == ("h.jpg", "manager1")


async def test_least_loaded_counts_active_tasks_across_the_whole_campaign(api, world):
    # contributor1 works at both steps: its Annotate tasks count when Review tasks are attributed.
    await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"], annotated=["e.jpg", "f.jpg"])
    campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]),
                     ("Review", "REVIEW", ["contributor1", "manager1"])],
        attributionPolicy="LEAST_LOADED", preexistingAnnotationStrategy="FIRST_QUALITY_CHECK")
    assert (await launch(api, world, campaign))["errors"] == []
    tasks = await all_tasks(api, world, campaign)
    assert [(t["asset"]["filename"], t["step"]["name"], t["assignee"]["username"]) for t in tasks] == [
        ("a.jpg", "Annotate", "labeler1"), ("b.jpg", "Annotate", "contributor1"),
        ("c.jpg", "Annotate", "labeler1"), ("d.jpg", "Annotate", "contributor1"),
        ("e.jpg", "Review", "manager1"), ("f.jpg", "Review", "manager1"),
    ]
    loads: dict[str, int] = {}
    for t in tasks:
        loads[t["assignee"]["username"]] = loads.get(t["assignee"]["username"], 0) + 1
    assert loads == {"labeler1": 2, "contributor1": 2, "manager1": 2}

    # a enters Review: contributor1 and manager1 both hold 2 → the first listed; then c → manager1 (3 vs 2).
    moved = await act(api, SUBMIT, {"taskId": tasks[0]["id"]}, world.labeler)
    assert moved["task"]["assignee"] == {"username": "contributor1"}
    moved = await act(api, SUBMIT, {"taskId": tasks[2]["id"]}, world.labeler)
    assert moved["task"]["assignee"] == {"username": "manager1"}

    # The loads follow every task write, a manager's reassign too: e moves from manager1 to
    # contributor1 (contributor1: b, d, a, e; manager1: f, c), so d, leaving contributor1 at
    # Annotate, enters Review to manager1 (2 against contributor1's 3 without d).
    moved = await act(api, REASSIGN, {"taskId": tasks[4]["id"], "assigneeId": world.ids["contributor"]}, world.manager)
    assert moved["errors"] == [] and moved["task"]["assignee"] == {"username": "contributor1"}
    moved = await act(api, SUBMIT, {"taskId": tasks[3]["id"]}, world.contributor)
    assert moved["task"]["assignee"] == {"username": "manager1"}


# ---------------------------------------------------------------- a launch that fails midway


class FailingCreatedEvents:
    """The launch module's SQL helper, failing on the statement that writes CREATED events (run after
    the tasks are inserted); it records how many tasks the transaction held when it failed."""

    def __init__(self) -> None:
        self.tasks_when_failed: int | None = None

    def __getattr__(self, name):
        return getattr(real_sql, name)

    async def execute(self, statement, params=()):
        if "INSERT INTO task_event" in statement and "'CREATED'" in statement:
            self.tasks_when_failed = (await real_sql.fetch("SELECT COUNT(*) FROM task"))[0][0]
            raise RuntimeError("injected fault: the database went away")
        return await real_sql.execute(statement, params)


async def test_a_launch_that_fails_midway_changes_nothing(api, world, monkeypatch):
    await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg"], annotated=["c.jpg"])
    campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])],
        preexistingAnnotationStrategy="FIRST_QUALITY_CHECK")
    fault = FailingCreatedEvents()
    monkeypatch.setattr(launch_module, "sql", fault)

    body = await api.post(LAUNCH, {"c": campaign}, world.manager)
    assert body.get("errors"), body
    assert fault.tasks_when_failed == 3  # the fault hit after the tasks were written
    await assert_untouched_draft(api, world, campaign)
    assert await asset_tasks(api, world) == {"a.jpg": None, "b.jpg": None, "c.jpg": None}

    monkeypatch.undo()
    launched = await launch(api, world, campaign)
    assert launched["errors"] == [] and launched["campaign"]["status"] == "ONGOING"
    tasks = await detailed_tasks(api, world, campaign)
    # Same attribution as a first launch (the round robin did not keep the failed attempt's moves),
    # and exactly one CREATED event per task.
    assert [(t["asset"]["filename"], t["step"]["name"], t["assignee"]["username"]) for t in tasks] == [
        ("a.jpg", "Annotate", "labeler1"), ("b.jpg", "Annotate", "contributor1"), ("c.jpg", "Review", "manager1")]
    assert [[e["kind"] for e in t["events"]] for t in tasks] == [["CREATED"], ["CREATED"], ["CREATED"]]


# ---------------------------------------------------------------- OVERDUE


async def test_overdue_past_the_due_date_and_work_continues(api, world, shifted_clock):
    await add_assets(api, world, ["a.jpg", "b.jpg"])
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])], dueDate=due)
    # A DRAFT past its due date is still a DRAFT.
    shifted_clock["by"] = timedelta(days=2)
    assert (await campaign_state(api, world, campaign))["status"] == "DRAFT"
    shifted_clock["by"] = timedelta(0)

    assert (await launch(api, world, campaign))["campaign"]["status"] == "ONGOING"
    first, second = await all_tasks(api, world, campaign)
    shifted_clock["by"] = timedelta(days=2)
    assert (await campaign_state(api, world, campaign))["status"] == "OVERDUE"

    submitted = await act(api, SUBMIT, {"taskId": first["id"]}, world.labeler)
    assert submitted["errors"] == [] and submitted["task"]["status"] == "DONE"
    assert (await campaign_state(api, world, campaign))["status"] == "OVERDUE"

    # Moving the due date later makes it ONGOING again; a due date already past makes it OVERDUE.
    assert (await update_campaign(api, world, campaign, dueDate=(datetime.now(UTC) + timedelta(days=5)).isoformat()))[
        "errors"] == []
    assert (await campaign_state(api, world, campaign))["status"] == "ONGOING"
    shifted_clock["by"] = timedelta(0)
    past = await update_campaign(api, world, campaign, dueDate="2020-01-01T00:00:00Z")
    assert past["errors"] == [] and past["campaign"]["status"] == "OVERDUE"

    # Finishing the last open task completes it: COMPLETED, not OVERDUE.
    last = await act(api, SUBMIT, {"taskId": second["id"]}, world.labeler)
    assert last["errors"] == [] and last["task"]["status"] == "DONE"
    state = await campaign_state(api, world, campaign)
    assert state["status"] == "COMPLETED" and state["completedAt"]


# ---------------------------------------------------------------- new assets


async def test_new_assets_join_with_add_to_campaign(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"])],
                                            newAssetPolicy="ADD_TO_CAMPAIGN")
    # Assets added to a DRAFT campaign's version wait for the launch.
    await add_assets(api, world, ["c.jpg"])
    assert (await campaign_state(api, world, campaign))["tasks"]["totalCount"] == 0
    assert (await launch(api, world, campaign))["errors"] == []
    assert (await campaign_state(api, world, campaign))["tasks"]["totalCount"] == 3

    added = await add_assets(api, world, ["d.jpg", "e.jpg"])
    tasks = await detailed_tasks(api, world, campaign)
    assert [(t["asset"]["filename"], t["status"], t["step"]["name"], t["assignee"]["username"]) for t in tasks] == [
        ("a.jpg", "IN_PROGRESS", "Annotate", "labeler1"), ("b.jpg", "IN_PROGRESS", "Annotate", "contributor1"),
        ("c.jpg", "IN_PROGRESS", "Annotate", "labeler1"),
        ("d.jpg", "IN_PROGRESS", "Annotate", "contributor1"), ("e.jpg", "IN_PROGRESS", "Annotate", "labeler1"),
    ]
    assert tasks[0]["events"][0]["actor"] == {"username": "manager1"}
    for task in tasks[3:]:
        assert [(e["kind"], e["step"]["name"], e["actor"], e["assignee"]) for e in task["events"]] == [
            ("CREATED", "Annotate", None, task["assignee"])]
    assert [a["filename"] for a in added] == ["d.jpg", "e.jpg"]
    assert (await asset_tasks(api, world))["d.jpg"] == "IN_PROGRESS"


async def test_new_assets_are_ignored_with_ignore(api, world):
    await add_assets(api, world, ["a.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])],
                                            newAssetPolicy="IGNORE")
    assert (await launch(api, world, campaign))["errors"] == []
    await add_assets(api, world, ["b.jpg", "c.jpg"])
    assert (await campaign_state(api, world, campaign))["tasks"]["totalCount"] == 1
    assert await asset_tasks(api, world) == {"a.jpg": "IN_PROGRESS", "b.jpg": None, "c.jpg": None}


async def test_close_to_new_assets_once_initial_tasks_are_done(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])],
                                            newAssetPolicy="ADD_TO_CAMPAIGN", closeToNewAssetsWhenInitialTasksDone=True)
    assert (await launch(api, world, campaign))["errors"] == []
    a, b = await all_tasks(api, world, campaign)
    assert (await act(api, SUBMIT, {"taskId": a["id"]}, world.labeler))["task"]["status"] == "DONE"

    # One initial task is still open: new assets still join.
    await add_assets(api, world, ["c.jpg"])
    tasks = await all_tasks(api, world, campaign)
    assert [t["asset"]["filename"] for t in tasks] == ["a.jpg", "b.jpg", "c.jpg"]

    # The last initial task is skipped: closed, even though c's task (not initial) is still open.
    skipped = await act(api, SUBMIT.replace("submitTask", "skipTask").replace("SubmitTaskInput", "SkipTaskInput"),
                        {"taskId": b["id"], "issue": {"kind": "IMAGE", "body": "Blurry"}}, world.labeler)
    assert skipped["errors"] == [] and skipped["task"]["status"] == "SKIPPED"
    await add_assets(api, world, ["d.jpg"])
    state = await campaign_state(api, world, campaign)
    assert state["tasks"]["totalCount"] == 3 and state["status"] == "ONGOING"
    assert await asset_tasks(api, world) == {"a.jpg": "DONE", "b.jpg": "SKIPPED", "c.jpg": "IN_PROGRESS", "d.jpg": None}


async def test_completed_campaign_that_gains_a_task_is_ongoing_again(api, world):
    await add_assets(api, world, ["a.jpg"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"])],
                                            newAssetPolicy="ADD_TO_CAMPAIGN")
    assert (await launch(api, world, campaign))["errors"] == []
    (a,) = await all_tasks(api, world, campaign)
    assert (await act(api, SUBMIT, {"taskId": a["id"]}, world.labeler))["task"]["status"] == "DONE"
    state = await campaign_state(api, world, campaign)
    assert state["status"] == "COMPLETED" and state["completedAt"]

    await add_assets(api, world, ["b.jpg"])
    state = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]
    assert state["status"] == "ONGOING" and state["completedAt"] is None
    assert (state["progress"]["totalTasks"], state["progress"]["inProgress"], state["progress"]["done"]) == (2, 1, 1)
    tasks = await all_tasks(api, world, campaign)
    assert (tasks[1]["asset"]["filename"], tasks[1]["status"], tasks[1]["assignee"]["username"]) == (
        "b.jpg", "IN_PROGRESS", "contributor1")

    # Finishing it completes the campaign again.
    assert (await act(api, SUBMIT, {"taskId": tasks[1]["id"]}, world.contributor))["task"]["status"] == "DONE"
    state = await campaign_state(api, world, campaign)
    assert state["status"] == "COMPLETED" and state["completedAt"]


# ---------------------------------------------------------------- progress


async def test_progress_follows_the_worked_example(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1"]), ("Review", "REVIEW", ["manager1"])])
    draft = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]["progress"]
    assert (draft["totalTasks"], draft["percent"]) == (0, 0.0)

    assert (await launch(api, world, campaign))["errors"] == []
    start = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]["progress"]
    assert (start["totalTasks"], start["inProgress"], start["percent"]) == (4, 4, 0.0)
    assert [(s["step"]["name"], s["count"]) for s in start["byStep"]] == [("Annotate", 4), ("Review", 0)]

    tasks = await all_tasks(api, world, campaign)
    for task in tasks[:2]:
        assert (await act(api, SUBMIT, {"taskId": task["id"], "shapes": [BOX]}, world.labeler))["errors"] == []
    progress = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]["progress"]
    assert progress["percent"] == 25.0  # S = 2, R = 2×2 + 2×1 = 6
    assert (progress["totalTasks"], progress["inProgress"], progress["toRework"], progress["done"], progress["skipped"]) == (
        4, 4, 0, 0, 0)
    assert [(s["step"]["name"], s["count"]) for s in progress["byStep"]] == [("Annotate", 2), ("Review", 2)]

    # One through Review to DONE: S = 3, R = 2×2 + 1×1 = 5 → 37.5.
    assert (await act(api, SUBMIT, {"taskId": tasks[0]["id"]}, world.manager))["task"]["status"] == "DONE"
    progress = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]["progress"]
    assert progress["percent"] == 37.5
    assert [(s["step"]["name"], s["count"]) for s in progress["byStep"]] == [("Annotate", 2), ("Review", 1)]


async def test_progress_costs_a_fixed_number_of_statements(api, world, count_queries):
    await add_assets(api, world, [f"{i}.jpg" for i in range(12)])
    campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1"]), ("Review", "REVIEW", ["manager1"])])
    assert (await launch(api, world, campaign))["errors"] == []
    with count_queries() as counter:
        progress = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]["progress"]
    assert [(s["step"]["name"], s["count"]) for s in progress["byStep"]] == [("Annotate", 12), ("Review", 0)]
    print(*counter.statements, sep="\n  ")
    # token+user with the viewer's roles, the campaign, the steps (for byStep and their positions),
    # the grouped count of the campaign's tasks
    assert len(counter.statements) == 4, counter.statements


async def test_two_concurrent_launches_create_the_tasks_once(api, world):
    await add_assets(api, world, [f"{n}.jpg" for n in "abcdef"])
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"])])
    results = await asyncio.gather(*(launch(api, world, campaign) for _ in range(2)))
    assert sorted(tuple(e["code"] for e in r["errors"]) for r in results) == [(), ("INVALID_STATE",)]
    state = await campaign_state(api, world, campaign)
    assert state["status"] == "ONGOING" and state["tasks"]["totalCount"] == 6
