"""Task transitions over GraphQL.

Every refusal (a payload error) changes nothing and publishes nothing; every success publishes exactly
its events, after its transaction committed. Sticky attribution, reassignments (all or none),
LABELER visibility, and the SQL cost of a page of tasks.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from campaign_helpers import (
    streams_by_type,
    BOX,
    ISSUE,
    LAUNCH,
    REASSIGN,
    REASSIGN_MANY,
    REWORK,
    SAVE,
    SKIP,
    START,
    SUBMIT,
    act,
    add_assets,
    all_tasks,
    campaign_with_steps,
    mutation,
)
from stepwise.models.db.campaigns import TaskEvent as TaskEventRow
from stepwise.models.db.issues import Issue as IssueRow
from stepwise.models.db.issues import IssueComment as IssueCommentRow
from stepwise.schema.ids import decode_id
from stepwise.subscriptions.channels import campaign_events, organization_events
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.connection import get_connections

ANNOTATE_REVIEW = [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])]
SNAPSHOT = """query($t: ID!) { task(id: $t) { status version updatedAt step { name } assignee { username }
  annotation { updatedAt shapes { kind label { name } points { x y } } } openIssueCount
  asset { annotation { shapes { kind } } issues { id status } }
  history { step { name } state assignee { username } submittedAt }
  events { kind step { name } actor { username } assignee { username } at } } }"""
EVENTS = "query($t: ID!) { task(id: $t) { events { kind step { name } actor { username } assignee { username } } } }"
MY_TASKS = "query($o: ID!) { myTasks(organizationId: $o) { tasks { id asset { filename } } } }"
POINT = {"label": "person", "kind": "POINT", "points": [{"x": 50, "y": 50}]}
POLYGON = {"label": "person", "kind": "POLYGON", "points": [{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 10}]}
ZONE_ISSUE = {"kind": "ZONE", "zone": {"x": 10, "y": 10, "width": 20, "height": 20}, "body": "Missed a car here."}


# ---------------------------------------------------------------- helpers


async def launched(api, world, steps=ANNOTATE_REVIEW, names=("a.jpg", "b.jpg", "c.jpg", "d.jpg"), **settings):
    """A launched campaign: (campaign id, {filename: task id}, [step ids])."""
    await add_assets(api, world, list(names))
    campaign, step_ids = await campaign_with_steps(api, world, steps, **settings)
    result = await api.data(LAUNCH, {"c": campaign}, world.manager)
    assert result["launchCampaign"]["errors"] == [], result
    tasks = await all_tasks(api, world, campaign)
    return campaign, {t["asset"]["filename"]: t["id"] for t in tasks}, step_ids


async def ok(api, query, variables, token) -> dict:
    payload = await act(api, query, variables, token)
    assert payload["errors"] == [], payload["errors"]
    return payload


async def snapshot(api, world, task_ids) -> dict:
    """Everything a refused mutation must leave as it was: each task as the API shows it, and every
    issue and issue comment row in the database."""
    tasks = {t: (await api.data(SNAPSHOT, {"t": t}, world.manager))["task"] for t in task_ids}
    issues = sorted(await IssueRow.all().values_list("id", "asset_id", "status"))
    comments = sorted(await IssueCommentRow.all().values_list("id", "issue_id", "action", "body"))
    return {"tasks": tasks, "issues": issues, "comments": comments}


class Listener:
    """The campaign's task and issue channels and the organization's task channel, subscribed on
    the in-process bus."""

    def __init__(self, streams: dict[str, object]) -> None:
        self.streams = streams

    async def _take(self, name: str, count: int) -> list[dict]:
        return [await asyncio.wait_for(anext(self.streams[name]), 2) for _ in range(count)]

    async def expect(self, kinds: list[str], issues: tuple[str, ...] = ()) -> list[dict]:
        """Exactly these task event kinds, in order (the same on the campaign and organization
        channels), these issue event kinds, and then nothing else."""
        on_campaign = await self._take("tasks", len(kinds))
        on_organization = await self._take("organization", len(kinds))
        on_issues = await self._take("issues", len(issues))
        assert [m["kind"] for m in on_campaign] == kinds
        assert on_organization == on_campaign
        assert [m["kind"] for m in on_issues] == list(issues)
        await self.silent()
        return on_campaign

    async def silent(self, seconds: float = 0.3) -> None:
        """Nothing arrives on any channel within `seconds`. Ends the listener."""
        pending = {asyncio.ensure_future(anext(stream)): name for name, stream in self.streams.items()}
        done, waiting = await asyncio.wait(pending, timeout=seconds)
        for future in waiting:
            future.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert not done, [(pending[f], f.result()) for f in done]


@asynccontextmanager
async def listening(api, world, campaign):
    bus = api.app.state.bus
    campaign_pk, org_pk = decode_id(campaign, "Campaign"), decode_id(world.ids["org"], "Organization")
    async with AsyncExitStack() as stack:
        on_campaign = await stack.enter_async_context(streams_by_type(bus, campaign_events(campaign_pk)))
        on_organization = await stack.enter_async_context(streams_by_type(bus, organization_events(org_pk)))
        yield Listener({"tasks": on_campaign["task"], "issues": on_campaign["issue"],
                        "organization": on_organization["task"]})


@pytest.fixture
def publications(api, monkeypatch) -> list[tuple[str, str, bool]]:
    """(channel, kind, whether a database transaction was open) for every message published."""
    bus = api.app.state.bus
    original = bus.publish
    log = []

    async def publish(channel, message):
        in_transaction = isinstance(get_connections().get("default"), TransactionalDBClient)
        log.append((channel, message.get("kind"), in_transaction))
        await original(channel, message)

    monkeypatch.setattr(bus, "publish", publish)
    return log


async def refused(api, world, campaign, query, variables, token, code, field=None, watch=()) -> dict:
    """Run a mutation that a business rule refuses: the payload names `code` and `field`, its
    object is null, the task (and `watch`ed tasks) and all issues are unchanged, nothing published."""
    task_ids = [t for t in (variables.get("taskId"), *variables.get("taskIds", ()), *watch) if t]
    before = await snapshot(api, world, task_ids)
    async with listening(api, world, campaign) as listener:
        payload = await act(api, query, variables, token)
        await listener.silent()
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], payload
    assert payload["errors"][0]["message"]
    assert payload.get("task") is None and payload.get("tasks", []) == []
    assert await snapshot(api, world, task_ids) == before
    return payload


# ---------------------------------------------------------------- refusals: nothing changes


@pytest.mark.parametrize("who", ["contributor", "manager"])
async def test_only_the_assignee_moves_a_task(api, world, who):
    campaign, tasks, _ = await launched(api, world)
    a = tasks["a.jpg"]  # labeler1's
    token = getattr(world, who)
    for query, variables in (
        (START, {"taskId": a}),
        (SAVE, {"taskId": a, "shapes": [BOX]}),
        (SUBMIT, {"taskId": a, "shapes": [BOX], "activeSeconds": 3}),
        (SKIP, {"taskId": a, "issue": ISSUE}),
        (REWORK, {"taskId": a, "issue": ISSUE}),
    ):
        await refused(api, world, campaign, query, variables, token, "NOT_ASSIGNEE")


@pytest.mark.parametrize("final", ["DONE", "SKIPPED"])
async def test_a_finished_task_cannot_move(api, world, final):
    campaign, tasks, _ = await launched(api, world)
    a = tasks["a.jpg"]
    await ok(api, SUBMIT, {"taskId": a}, world.labeler)
    if final == "DONE":
        assert (await ok(api, SUBMIT, {"taskId": a}, world.manager))["task"]["status"] == "DONE"
    else:
        assert (await ok(api, SKIP, {"taskId": a, "issue": ISSUE}, world.manager))["task"]["status"] == "SKIPPED"
    for token in (world.manager, world.contributor):  # (a LABELER no longer sees a finished task at all)
        for query, variables in (
            (START, {"taskId": a}),
            (SAVE, {"taskId": a, "shapes": [BOX]}),
            (SUBMIT, {"taskId": a, "shapes": [BOX]}),
            (REWORK, {"taskId": a, "issue": ISSUE}),
            (SKIP, {"taskId": a, "issue": ISSUE}),
        ):
            await refused(api, world, campaign, query, variables, token, "INVALID_STATE")


async def test_rework_at_an_annotation_step_is_wrong_step(api, world):
    campaign, tasks, _ = await launched(api, world)
    await refused(api, world, campaign, REWORK, {"taskId": tasks["a.jpg"], "issue": ISSUE}, world.labeler, "WRONG_STEP")
    await refused(api, world, campaign, REWORK, {"taskId": tasks["b.jpg"]}, world.contributor, "WRONG_STEP")


async def test_rework_at_a_first_review_step_has_nowhere_to_go(api, world):
    steps = [("Check", "REVIEW", ["manager1"]), ("Fix", "ANNOTATION", ["labeler1"])]
    campaign, tasks, _ = await launched(api, world, steps, names=("a.jpg",))
    await refused(api, world, campaign, REWORK, {"taskId": tasks["a.jpg"], "issue": ZONE_ISSUE}, world.manager,
                  "NO_PREVIOUS_ANNOTATION_STEP")
    await refused(api, world, campaign, REWORK, {"taskId": tasks["a.jpg"]}, world.manager, "NO_PREVIOUS_ANNOTATION_STEP")


async def test_rework_and_skip_need_an_open_issue(api, world):
    campaign, tasks, _ = await launched(api, world)
    a, b = tasks["a.jpg"], tasks["b.jpg"]
    await ok(api, SUBMIT, {"taskId": a}, world.labeler)
    await refused(api, world, campaign, REWORK, {"taskId": a}, world.manager, "ISSUE_REQUIRED", "input.issue")
    await refused(api, world, campaign, SKIP, {"taskId": a}, world.manager, "ISSUE_REQUIRED", "input.issue")
    await refused(api, world, campaign, SKIP, {"taskId": b}, world.contributor, "ISSUE_REQUIRED", "input.issue")


async def test_the_last_submit_is_refused_while_an_issue_is_open(api, world):
    campaign, tasks, _ = await launched(api, world)
    a = tasks["a.jpg"]
    await ok(api, SUBMIT, {"taskId": a, "shapes": [BOX]}, world.labeler)
    await ok(api, REWORK, {"taskId": a, "issue": ISSUE}, world.manager)
    await ok(api, SUBMIT, {"taskId": a}, world.labeler)
    # Shapes sent with the refused submit are not saved either.
    await refused(api, world, campaign, SUBMIT, {"taskId": a}, world.manager, "OPEN_ISSUES")
    await refused(api, world, campaign, SUBMIT, {"taskId": a, "shapes": [POINT], "activeSeconds": 5}, world.manager,
                  "OPEN_ISSUES")


async def test_a_stale_expected_version_is_a_conflict(api, world):
    campaign, tasks, _ = await launched(api, world)
    a = tasks["a.jpg"]
    version = (await ok(api, START, {"taskId": a}, world.labeler))["task"]["version"]
    for stale in (version - 1, version + 1, 0):
        for query, variables in (
            (START, {"taskId": a}),
            (SAVE, {"taskId": a, "shapes": [BOX]}),
            (SUBMIT, {"taskId": a, "shapes": [BOX]}),
            (SKIP, {"taskId": a, "issue": ISSUE}),
        ):
            await refused(api, world, campaign, query, {**variables, "expectedVersion": stale}, world.labeler, "CONFLICT")
    submitted = await ok(api, SUBMIT, {"taskId": a, "expectedVersion": version}, world.labeler)
    await refused(api, world, campaign, REWORK, {"taskId": a, "issue": ISSUE, "expectedVersion": version}, world.manager,
                  "CONFLICT")
    assert (await ok(api, REWORK, {"taskId": a, "issue": ISSUE, "expectedVersion": submitted["task"]["version"]},
                     world.manager))["task"]["status"] == "TO_REWORK"


BAD_SHAPES = [
    ([{**BOX, "label": "truck"}], "input.shapes.0.label"),
    ([BOX, {**POLYGON, "points": POLYGON["points"][:2]}], "input.shapes.1.points"),
    ([{**BOX, "points": [{"x": 1, "y": 1}, {"x": 101, "y": 5}]}], "input.shapes.0.points.1"),
    ([{**BOX, "points": [{"x": 5, "y": 5}, {"x": 1, "y": 1}]}], "input.shapes.0.points"),
    ([{**POINT, "points": [{"x": -1, "y": 5}]}], "input.shapes.0.points.0"),
    ([{"label": "car", "kind": "CLASSIFICATION", "points": [{"x": 1, "y": 1}]}], "input.shapes.0.points"),
]


async def test_bad_shapes_are_refused_like_in_add_assets(api, world):
    campaign, tasks, _ = await launched(api, world)
    a = tasks["a.jpg"]
    await ok(api, SAVE, {"taskId": a, "shapes": [BOX]}, world.labeler)  # something to keep
    for shapes, field in BAD_SHAPES:
        await refused(api, world, campaign, SAVE, {"taskId": a, "shapes": shapes}, world.labeler, "INVALID_INPUT", field)
        await refused(api, world, campaign, SUBMIT, {"taskId": a, "shapes": shapes}, world.labeler, "INVALID_INPUT", field)
    for seconds in (-1, 1e12):
        await refused(api, world, campaign, SUBMIT, {"taskId": a, "activeSeconds": seconds}, world.labeler,
                      "INVALID_INPUT", "input.activeSeconds")


BAD_ISSUES = [
    ({**ZONE_ISSUE, "zone": {"x": 90, "y": 10, "width": 20, "height": 20}}, "input.issue.zone"),  # past the right edge
    ({**ZONE_ISSUE, "zone": {"x": -1, "y": 10, "width": 20, "height": 20}}, "input.issue.zone"),
    ({**ZONE_ISSUE, "zone": {"x": 10, "y": 10, "width": 0, "height": 20}}, "input.issue.zone"),
    ({**ZONE_ISSUE, "zone": {"x": 10, "y": 10, "width": 20, "height": -3}}, "input.issue.zone"),
    ({"kind": "ZONE", "body": "Where?"}, "input.issue.zone"),
    ({**ISSUE, "zone": {"x": 10, "y": 10, "width": 20, "height": 20}}, "input.issue.zone"),  # IMAGE with a zone
    ({**ISSUE, "body": ""}, "input.issue.body"),
    ({**ISSUE, "body": "   \n "}, "input.issue.body"),
]


async def test_bad_issues_are_refused_with_the_rework_or_skip(api, world):
    campaign, tasks, _ = await launched(api, world)
    a, b = tasks["a.jpg"], tasks["b.jpg"]
    await ok(api, SUBMIT, {"taskId": a}, world.labeler)
    for issue, field in BAD_ISSUES:
        await refused(api, world, campaign, REWORK, {"taskId": a, "issue": issue}, world.manager, "INVALID_INPUT", field)
        await refused(api, world, campaign, SKIP, {"taskId": a, "issue": issue}, world.manager, "INVALID_INPUT", field)
        await refused(api, world, campaign, SKIP, {"taskId": b, "issue": issue}, world.contributor, "INVALID_INPUT", field)


# ---------------------------------------------------------------- successes


async def test_each_transition_publishes_its_events_after_commit(api, world, publications):
    campaign, tasks, _ = await launched(api, world)
    a, b, c, d = (tasks[n] for n in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"))
    version = (await api.data(SNAPSHOT, {"t": a}, world.manager))["task"]["version"]

    async def step(query, variables, token, kinds, issues=()):
        nonlocal version
        async with listening(api, world, campaign) as listener:
            payload = await ok(api, query, variables, token)
            messages = await listener.expect(kinds, issues)
        assert {m["task_id"] for m in messages} == {decode_id(variables["taskId"], "Task")}
        return payload["task"]

    task = await step(START, {"taskId": a}, world.labeler, ["STARTED"])
    assert task["version"] == version + 1 and task["status"] == "IN_PROGRESS" and task["step"] == {"name": "Annotate"}
    task = await step(START, {"taskId": a, "expectedVersion": version + 1}, world.labeler, ["STARTED"])
    assert task["version"] == version + 2
    task = await step(SAVE, {"taskId": a, "shapes": [BOX]}, world.labeler, ["SAVED"])
    assert task["version"] == version + 3
    task = await step(SUBMIT, {"taskId": a, "activeSeconds": 12.5}, world.labeler, ["SUBMITTED"])
    assert task["version"] == version + 4 and task["step"] == {"name": "Review"} and task["assignee"] == {"username": "manager1"}
    task = await step(REWORK, {"taskId": a, "issue": ZONE_ISSUE}, world.manager, ["SENT_TO_REWORK"], issues=("CREATED",))
    assert task["version"] == version + 5 and task["status"] == "TO_REWORK"
    task = await step(SUBMIT, {"taskId": a}, world.labeler, ["SUBMITTED"])
    assert task["version"] == version + 6 and task["status"] == "IN_PROGRESS"
    task = await step(SKIP, {"taskId": a}, world.manager, ["SKIPPED"])  # the rework's issue is still open
    assert task["version"] == version + 7 and task["status"] == "SKIPPED" and task["assignee"] is None

    await step(SUBMIT, {"taskId": c}, world.labeler, ["SUBMITTED"])
    task = await step(SUBMIT, {"taskId": c, "shapes": [POINT]}, world.manager, ["SUBMITTED", "DONE"])
    assert task["version"] == version + 2 and task["status"] == "DONE" and task["step"] is None

    task = await step(SKIP, {"taskId": b, "issue": ISSUE}, world.contributor, ["SKIPPED"], issues=("CREATED",))
    assert task["status"] == "SKIPPED"
    labeler = world.ids["labeler"]
    task = await step(REASSIGN, {"taskId": d, "assigneeId": labeler}, world.manager, ["REASSIGNED"])
    assert task["assignee"] == {"username": "labeler1"} and task["version"] == version + 1

    assert publications and not [p for p in publications if p[2]], "published inside a transaction"
    events = (await api.data(EVENTS, {"t": a}, world.manager))["task"]["events"]
    assert [e["kind"] for e in events] == ["CREATED", "STARTED", "STARTED", "SAVED", "SUBMITTED", "SENT_TO_REWORK",
                                           "SUBMITTED", "SKIPPED"]
    durations = await TaskEventRow.filter(task_id=decode_id(a, "Task"), kind="SUBMITTED").order_by("id").values_list(
        "duration_seconds", flat=True)
    assert durations[0] == 12.5


async def test_save_replaces_the_working_annotation(api, world):
    _, tasks, _ = await launched(api, world)
    a = tasks["a.jpg"]
    saved = await ok(api, SAVE, {"taskId": a, "shapes": [BOX, POLYGON]}, world.labeler)
    assert [s["kind"] for s in saved["task"]["annotation"]["shapes"]] == ["RECTANGLE", "POLYGON"]
    await ok(api, SAVE, {"taskId": a, "shapes": [POINT]}, world.labeler)
    replaced = (await api.data(SNAPSHOT, {"t": a}, world.manager))["task"]
    assert replaced["annotation"]["shapes"] == [{"kind": "POINT", "label": {"name": "person"}, "points": [{"x": 50.0, "y": 50.0}]}]
    emptied = await ok(api, SAVE, {"taskId": a, "shapes": []}, world.labeler)
    assert emptied["task"]["annotation"] == {"shapes": []}
    # The asset's own annotation is untouched until the workflow finishes.
    assert replaced["asset"]["annotation"] is None


async def test_submit_with_shapes_saves_them_first(api, world):
    _, tasks, _ = await launched(api, world)
    a = tasks["a.jpg"]
    await ok(api, SAVE, {"taskId": a, "shapes": [BOX]}, world.labeler)
    before = (await api.data(SNAPSHOT, {"t": a}, world.manager))["task"]
    submitted = await ok(api, SUBMIT, {"taskId": a, "shapes": [POINT, POLYGON], "activeSeconds": 0}, world.labeler)
    assert submitted["task"]["version"] == before["version"] + 1
    after = (await api.data(SNAPSHOT, {"t": a}, world.manager))["task"]
    assert [s["kind"] for s in after["annotation"]["shapes"]] == ["POINT", "POLYGON"]
    assert [e["kind"] for e in after["events"]][len(before["events"]):] == ["SUBMITTED"]
    final = await ok(api, SUBMIT, {"taskId": a, "shapes": [BOX]}, world.manager)
    assert final["task"]["status"] == "DONE"
    asset = (await api.data(SNAPSHOT, {"t": a}, world.manager))["task"]["asset"]
    assert asset["annotation"] == {"shapes": [{"kind": "RECTANGLE"}]}


# ---------------------------------------------------------------- sticky attribution

REVIEWERS = [("Annotate", "ANNOTATION", ["labeler1"]), ("Review", "REVIEW", ["manager1", "contributor1"])]


async def test_a_reworked_task_returns_to_the_same_reviewer(api, world):
    _, tasks, _ = await launched(api, world, REVIEWERS, names=("a.jpg", "b.jpg", "c.jpg"))
    a, b, c = tasks["a.jpg"], tasks["b.jpg"], tasks["c.jpg"]
    assert (await ok(api, SUBMIT, {"taskId": a}, world.labeler))["task"]["assignee"] == {"username": "manager1"}
    reworked = await ok(api, REWORK, {"taskId": a, "issue": ISSUE}, world.manager)
    assert reworked["task"]["assignee"] == {"username": "labeler1"} and reworked["task"]["status"] == "TO_REWORK"
    # Round robin's next reviewer is contributor1; a goes back to manager1 all the same.
    back = await ok(api, SUBMIT, {"taskId": a}, world.labeler)
    assert back["task"]["assignee"] == {"username": "manager1"} and back["task"]["step"] == {"name": "Review"}
    # ...and the round robin did not move: the next new arrival goes to contributor1, then manager1.
    assert (await ok(api, SUBMIT, {"taskId": b}, world.labeler))["task"]["assignee"] == {"username": "contributor1"}
    assert (await ok(api, SUBMIT, {"taskId": c}, world.labeler))["task"]["assignee"] == {"username": "manager1"}


async def test_rework_goes_to_the_last_submitter_even_after_reassignments(api, world):
    steps = [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1", "contributor1"])]
    _, tasks, step_ids = await launched(api, world, steps, names=("a.jpg", "b.jpg"))
    a, b = tasks["a.jpg"], tasks["b.jpg"]
    # a: labeler1 submits; at Review the manager hands it to contributor1, who sends it back.
    await ok(api, SUBMIT, {"taskId": a}, world.labeler)
    await ok(api, REASSIGN, {"taskId": a, "assigneeId": world.ids["contributor"]}, world.manager)
    reworked = await ok(api, REWORK, {"taskId": a, "issue": ISSUE}, world.contributor)
    assert reworked["task"]["assignee"] == {"username": "labeler1"}
    # Resubmitted, it returns to whoever held it at Review last: contributor1.
    assert (await ok(api, SUBMIT, {"taskId": a}, world.labeler))["task"]["assignee"] == {"username": "contributor1"}
    # b: contributor1's at Annotate, reassigned in bulk to labeler1, who submits; rework goes to labeler1.
    many = await act(api, REASSIGN_MANY, {"stepId": step_ids[0], "taskIds": [b], "assigneeId": world.ids["labeler"]},
                     world.manager)
    assert many["errors"] == [] and many["tasks"][0]["assignee"] == {"username": "labeler1"}
    await ok(api, SUBMIT, {"taskId": b}, world.labeler)
    task = (await api.data(SNAPSHOT, {"t": b}, world.manager))["task"]
    assert task["assignee"] == {"username": "contributor1"}  # round robin at Review: a took manager1's turn
    assert (await ok(api, REWORK, {"taskId": b, "issue": ISSUE}, world.contributor))["task"]["assignee"] == {"username": "labeler1"}


# ---------------------------------------------------------------- reassignments


def top_level_code(body: dict) -> str:
    assert body.get("data") is None or all(v is None for v in body["data"].values()), body
    return body["errors"][0]["extensions"]["code"]


async def test_only_managers_reassign(api, world):
    campaign, tasks, step_ids = await launched(api, world)
    a = tasks["a.jpg"]
    before = await snapshot(api, world, [a])
    single = {"taskId": a, "assigneeId": world.ids["contributor"]}
    bulk = {"stepId": step_ids[0], "taskIds": [a], "assigneeId": world.ids["contributor"]}
    async with listening(api, world, campaign) as listener:
        for token, code in ((world.contributor, "FORBIDDEN"), (world.outsider, "NOT_FOUND")):
            assert top_level_code(await api.post(REASSIGN, {"i": single}, token)) == code
            assert top_level_code(await api.post(REASSIGN_MANY, {"i": bulk}, token)) == code
        await listener.silent()
    assert await snapshot(api, world, [a]) == before


async def test_the_new_assignee_must_be_a_worker(api, world):
    campaign, tasks, step_ids = await launched(api, world)
    a, c = tasks["a.jpg"], tasks["c.jpg"]
    for user in ("member", "outsider"):
        await refused(api, world, campaign, REASSIGN, {"taskId": a, "assigneeId": world.ids[user]}, world.manager,
                      "NOT_A_WORKER", "input.assigneeId")
        await refused(api, world, campaign, REASSIGN_MANY, {"stepId": step_ids[0], "taskIds": [a, c],
                                                            "assigneeId": world.ids[user]}, world.manager,
                      "NOT_A_WORKER", "input.assigneeId")


async def test_only_active_tasks_are_reassigned(api, world):
    campaign, tasks, step_ids = await launched(api, world)
    a, b, c = tasks["a.jpg"], tasks["b.jpg"], tasks["c.jpg"]
    await ok(api, SUBMIT, {"taskId": a}, world.labeler)
    await ok(api, SUBMIT, {"taskId": a}, world.manager)  # DONE
    await ok(api, SKIP, {"taskId": b, "issue": ISSUE}, world.contributor)  # SKIPPED
    for task in (a, b):
        before = await snapshot(api, world, [task])
        async with listening(api, world, campaign) as listener:
            body = await act(api, REASSIGN, {"taskId": task, "assigneeId": world.ids["labeler"]}, world.manager)
            await listener.silent()
        assert [e["code"] for e in body["errors"]] == ["INVALID_STATE"] and body["task"] is None
        assert await snapshot(api, world, [task]) == before
        # The field names an input field of reassignTask (which has no `taskIds`).
        assert body["errors"][0]["field"] in (None, "input.taskId"), body["errors"]
    # In bulk, one finished task refuses the whole call.
    await refused(api, world, campaign, REASSIGN_MANY, {"stepId": step_ids[0], "taskIds": [c, b],
                                                        "assigneeId": world.ids["contributor"]}, world.manager,
                  "INVALID_STATE", "input.taskIds.1")


async def test_bulk_reassign_needs_every_task_at_the_step_all_or_none(api, world):
    campaign, tasks, step_ids = await launched(api, world)
    a, c, d = tasks["a.jpg"], tasks["c.jpg"], tasks["d.jpg"]
    await ok(api, SUBMIT, {"taskId": a}, world.labeler)  # a is at Review now
    await refused(api, world, campaign, REASSIGN_MANY, {"stepId": step_ids[0], "taskIds": [c, d, a],
                                                        "assigneeId": world.ids["contributor"]}, world.manager,
                  "WRONG_STEP", "input.taskIds.2")
    await refused(api, world, campaign, REASSIGN_MANY, {"stepId": step_ids[1], "taskIds": [a, c],
                                                        "assigneeId": world.ids["manager"]}, world.manager,
                  "WRONG_STEP", "input.taskIds.1")
    assert await TaskEventRow.filter(kind="REASSIGNED").count() == 0


async def test_bulk_reassign_publishes_one_event_per_task_and_the_new_assignee_sees_them(api, world, publications):
    campaign, tasks, step_ids = await launched(api, world)
    a, b, c, d = (tasks[n] for n in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"))
    before = (await snapshot(api, world, [a, c]))["tasks"]
    async with listening(api, world, campaign) as listener:
        payload = await act(api, REASSIGN_MANY, {"stepId": step_ids[0], "taskIds": [c, a],
                                                 "assigneeId": world.ids["contributor"]}, world.manager)
        messages = await listener.expect(["REASSIGNED", "REASSIGNED"])
    assert payload["errors"] == []
    assert [(t["id"], t["assignee"]["username"], t["status"], t["step"]["name"]) for t in payload["tasks"]] == [
        (c, "contributor1", "IN_PROGRESS", "Annotate"), (a, "contributor1", "IN_PROGRESS", "Annotate")]
    assert [t["version"] for t in payload["tasks"]] == [before[c]["version"] + 1, before[a]["version"] + 1]
    assert [m["task_id"] for m in messages] == [decode_id(c, "Task"), decode_id(a, "Task")]
    assert {(m["assignee_id"], m["previous_assignee_id"]) for m in messages} == {
        (decode_id(world.ids["contributor"], "User"), decode_id(world.ids["labeler"], "User"))}
    assert not [p for p in publications if p[2]], "published inside a transaction"
    events = (await api.data(EVENTS, {"t": a}, world.manager))["task"]["events"]
    assert events[-1] == {"kind": "REASSIGNED", "step": {"name": "Annotate"}, "actor": {"username": "manager1"},
                          "assignee": {"username": "contributor1"}}
    mine = await api.data(MY_TASKS, {"o": world.ids["org"]}, world.contributor)
    assert sorted(t["id"] for g in mine["myTasks"] for t in g["tasks"]) == sorted([a, b, c, d])
    assert (await api.data(MY_TASKS, {"o": world.ids["org"]}, world.labeler))["myTasks"] == []
    # The new assignee works on it; the old one may no longer.
    await ok(api, START, {"taskId": a}, world.contributor)
    gone = await api.post(SNAPSHOT, {"t": a}, world.labeler)
    assert top_level_code(gone) == "NOT_FOUND"


def fail_on_second_call(function):
    calls = []

    def failing(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return function(*args, **kwargs)

    failing.calls = calls
    return failing


@pytest.mark.parametrize("seam", ["TaskChanged", "task_event_writes"])
async def test_a_fault_in_the_middle_of_a_bulk_reassign_leaves_nothing_behind(api, world, monkeypatch, seam):
    """The fault strikes after some task rows were already updated (the 2nd task's event, or
    the events' insert after every row): the whole reassignment rolls back."""
    import stepwise.models.actions.reassign as reassign_module

    campaign, tasks, step_ids = await launched(api, world)
    ids = [tasks[n] for n in ("a.jpg", "b.jpg", "c.jpg", "d.jpg")]
    if seam == "TaskChanged":
        failing = fail_on_second_call(reassign_module.TaskChanged)
        monkeypatch.setattr(reassign_module, "TaskChanged", failing)
    else:
        failing = fail_on_second_call(reassign_module.task_event_writes)  # the first call raises too
        failing.calls.append("armed")
        monkeypatch.setattr(reassign_module, "task_event_writes", failing)
    before = await snapshot(api, world, ids)
    async with listening(api, world, campaign) as listener:
        body = await api.post(REASSIGN_MANY, {"i": {"stepId": step_ids[0], "taskIds": ids,
                                                     "assigneeId": world.ids["manager"]}}, world.manager)
        await listener.silent()
    assert len(failing.calls) == 2
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR", body
    assert await snapshot(api, world, ids) == before
    assert [t["assignee"]["username"] for t in before["tasks"].values()] == ["labeler1", "contributor1"] * 2
    assert await TaskEventRow.filter(kind="REASSIGNED").count() == 0
    # The same call succeeds once the fault is gone.
    monkeypatch.undo()
    retried = await act(api, REASSIGN_MANY, {"stepId": step_ids[0], "taskIds": ids, "assigneeId": world.ids["manager"]},
                        world.manager)
    assert retried["errors"] == [] and {t["assignee"]["username"] for t in retried["tasks"]} == {"manager1"}
    assert await TaskEventRow.filter(kind="REASSIGNED").count() == 4


# ---------------------------------------------------------------- visibility


async def test_a_labeler_sees_only_their_own_tasks(api, world):
    campaign, tasks, _ = await launched(api, world)
    theirs, colleagues = tasks["a.jpg"], tasks["b.jpg"]  # labeler1's, contributor1's (same step)
    own = await api.data(SNAPSHOT, {"t": theirs}, world.labeler)
    assert own["task"]["assignee"] == {"username": "labeler1"}
    body = await api.post(SNAPSHOT, {"t": colleagues}, world.labeler)
    assert body["data"] == {"task": None} and top_level_code(body) == "NOT_FOUND"
    listing = await api.post("query($c: ID!) { campaign(id: $c) { id tasks { totalCount } } }", {"c": campaign},
                             world.labeler)
    assert listing["errors"][0]["extensions"]["code"] == "FORBIDDEN", listing
    # Nor may they act on it: for them it does not exist.
    body = await api.post(START, {"i": {"taskId": colleagues}}, world.labeler)
    assert top_level_code(body) == "NOT_FOUND"


PAYLOAD_SNAPSHOT = SNAPSHOT.replace("query($t: ID!) { task(id: $t) {", "").rsplit("}", 2)[0]
SUBMIT_SEEN = f"mutation($i: SubmitTaskInput!) {{ submitTask(input: $i) {{ task {{ {PAYLOAD_SNAPSHOT} }} errors {{ code }} }} }}"


async def test_a_labeler_whose_submit_moves_the_task_away_gets_it_sealed(api, world):
    """Once submitted, the task is the reviewer's: task(id) refuses it to the LABELER, so the
    payload tells where it went and nothing of its content (as their updates do)."""
    _, tasks, _ = await launched(api, world)
    a = tasks["a.jpg"]
    payload = (await api.data(SUBMIT_SEEN, {"i": {"taskId": a, "shapes": [BOX]}}, world.labeler))["submitTask"]
    assert payload["errors"] == []
    seen = payload["task"]
    assert (seen["status"], seen["step"], seen["assignee"]) == ("IN_PROGRESS", {"name": "Review"}, {"username": "manager1"})
    assert (seen["annotation"], seen["history"], seen["events"], seen["openIssueCount"]) == (None, [], [], 0)
    assert seen["asset"] == {"annotation": None, "issues": []}
    body = await api.post(SNAPSHOT, {"t": a}, world.labeler)
    assert body["data"] == {"task": None} and top_level_code(body) == "NOT_FOUND"
    # Whoever may still see the task gets it whole: contributor1 submits b (also to Review).
    whole = (await api.data(SUBMIT_SEEN, {"i": {"taskId": tasks["b.jpg"], "shapes": [BOX]}}, world.contributor))["submitTask"]
    assert whole["task"]["annotation"]["shapes"][0]["kind"] == "RECTANGLE"
    assert [e["kind"] for e in whole["task"]["events"]] == ["CREATED", "SUBMITTED"]


# ---------------------------------------------------------------- cost

PAGE = """query($c: ID!, $first: Int) { campaign(id: $c) { tasks(first: $first) { edges { node {
  id status version step { name } assignee { username } asset { filename } openIssueCount } } } } }"""


async def test_a_page_of_tasks_costs_the_same_queries_whatever_its_size(api, world, count_queries):
    campaign, tasks, _ = await launched(api, world, names=[f"{i:03d}.jpg" for i in range(120)])
    # Some variety: tasks at both steps, one with an open issue, one skipped.
    await ok(api, SUBMIT, {"taskId": tasks["000.jpg"]}, world.labeler)
    await ok(api, REWORK, {"taskId": tasks["000.jpg"], "issue": ISSUE}, world.manager)
    await ok(api, SUBMIT, {"taskId": tasks["002.jpg"]}, world.labeler)
    await ok(api, SKIP, {"taskId": tasks["001.jpg"], "issue": ISSUE}, world.contributor)
    counts = {}
    for size in (100, 10):
        with count_queries() as counter:
            page = await api.data(PAGE, {"c": campaign, "first": size}, world.manager)
        edges = page["campaign"]["tasks"]["edges"]
        assert len(edges) == size
        assert edges[0]["node"]["openIssueCount"] == 1 and edges[1]["node"]["openIssueCount"] == 1
        assert edges[2]["node"]["step"] == {"name": "Review"} and edges[1]["node"]["assignee"] is None
        counts[size] = len(counter.statements)
        print(size, *counter.statements, sep="\n  ")
    # token+user with the viewer's roles (memberships and worker rows, one query), campaign, task
    # page, steps, users, assets, open issue counts
    assert counts[100] == counts[10] == 7, counts


async def test_a_single_task_loads_only_the_relations_its_query_selects(api, world, count_queries):
    _, tasks, _ = await launched(api, world)
    selections = {
        "plain": "id status version",
        "asset": "id status version asset { filename }",
        "all": "id status version asset { filename } step { name } assignee { username } openIssueCount",
    }
    counts, answers = {}, {}
    for name, fields in selections.items():
        with count_queries() as counter:
            answers[name] = (await api.data(f"query($t: ID!) {{ task(id: $t) {{ {fields} }} }}", {"t": tasks["a.jpg"]},
                                            world.manager))["task"]
        counts[name] = len(counter.statements)
    # Each relation is one query, run only when selected.
    assert counts["asset"] == counts["plain"] + 1 and counts["all"] == counts["plain"] + 4, counts
    assert answers["all"] == {**answers["plain"], "asset": {"filename": "a.jpg"}, "step": {"name": "Annotate"},
                              "assignee": {"username": "labeler1"}, "openIssueCount": 0}


RELATIONS = "step { id name type position } assignee { id username }"
SUBMIT_RELATIONS = mutation("submitTask", "SubmitTaskInput", f"task {{ id {RELATIONS} }} errors {{ code }}")
REWORK_RELATIONS = mutation("sendTaskToRework", "SendToReworkInput", f"task {{ id {RELATIONS} }} errors {{ code }}")
TASK_RELATIONS = f"query($t: ID!) {{ task(id: $t) {{ id {RELATIONS} }} }}"


async def test_a_payloads_step_and_assignee_are_the_rows_a_fresh_read_gives(api, world):
    """The payload's step and holder come from the transition's own workflow read (no read after
    the commit): through a submit, a rework back to the submitter and a resubmit, each equals
    what task(id) reads afterwards."""
    _, tasks, _ = await launched(api, world)
    moves = [(SUBMIT_RELATIONS, {"taskId": tasks["a.jpg"]}, world.labeler, "Review"),
             (REWORK_RELATIONS, {"taskId": tasks["a.jpg"], "issue": ISSUE}, world.manager, "Annotate"),
             (SUBMIT_RELATIONS, {"taskId": tasks["a.jpg"]}, world.labeler, "Review")]
    for query, variables, token, step in moves:
        payload = await act(api, query, variables, token)
        assert payload["errors"] == [], payload
        fresh = (await api.data(TASK_RELATIONS, {"t": tasks["a.jpg"]}, world.manager))["task"]
        assert payload["task"] == fresh and fresh["step"]["name"] == step and fresh["assignee"] is not None


async def test_a_submit_costs_a_fixed_number_of_statements(api, world, count_queries, database_url):
    _, tasks, _ = await launched(api, world)
    with count_queries() as counter:
        payload = await ok(api, SUBMIT, {"taskId": tasks["a.jpg"], "expectedVersion": 1}, world.labeler)
    assert payload["task"]["step"] == {"name": "Review"} and payload["task"]["assignee"] == {"username": "manager1"}
    print(*counter.statements, sep="\n  ")
    # Before the write lock: token+user with the viewer's roles, the task with its campaign. Under it:
    # the workflow with this task's past holders (PostgreSQL: and the Review step's row lock, as
    # round robin attributes there), then the conditional UPDATE, the holder left at Annotate and
    # the SUBMITTED event, its hour and day in the analytics rollups and the task counts it moves (one
    # round trip on SQLite; on PostgreSQL one statement, sql.merge_writes), and last the event in the
    # campaign's log (on PostgreSQL the seq's row lock, held to commit; since issue 12 in that same
    # statement, after the other writes, so that the lock every change of the campaign waits for is
    # held for one round trip fewer: 7 -> 6). The payload: the asset
    # (annotation { shapes } reads the task row itself); its step and assignee come from the
    # workflow read (step names and the assignees' user rows), with no read after the commit.
    expected = 6 if database_url.startswith("postgres") else 11
    assert len(counter.statements) == expected, counter.statements
    assert not any(s.lstrip().startswith(('SELECT "id", "name"', 'SELECT "id", "username"')) for s in counter.statements)
