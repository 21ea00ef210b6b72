"""GraphQL snippets and helpers shared by the campaign and task tests."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

CREATE = "mutation($v: ID!) { createCampaign(input: {datasetVersionId: $v}) { campaign { id status } errors { code field } } }"
ADD_STEP = """mutation($i: AddStepInput!) { addStep(input: $i) {
  step { id name type position assignees { username } } campaign { steps { name position } } errors { code field } } }"""
UPDATE_STEP = """mutation($i: UpdateStepInput!) { updateStep(input: $i) {
  step { id name type position assignees { username } } campaign { steps { name position } } errors { code field } } }"""
REMOVE_STEP = "mutation($i: RemoveStepInput!) { removeStep(input: $i) { campaign { steps { name position } } errors { code field } } }"
UPDATE = """mutation($i: UpdateCampaignInput!) { updateCampaign(input: $i) { campaign { newAssetPolicy attributionPolicy
  preexistingAnnotationStrategy dueDate closeToNewAssetsWhenInitialTasksDone status } errors { code field } } }"""
LAUNCH = "mutation($c: ID!) { launchCampaign(input: {campaignId: $c}) { campaign { status launchedAt completedAt } errors { code field } } }"
TASK_FIELDS = "id status version step { name } assignee { username } asset { filename } annotation { shapes { kind } }"
TASKS = f"""query($c: ID!, $f: TaskFilter, $first: Int, $after: String) {{ campaign(id: $c) {{ status
  tasks(filter: $f, first: $first, after: $after) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {TASK_FIELDS} }} }} }} }} }}"""
TASK = f"query($t: ID!) {{ task(id: $t) {{ {TASK_FIELDS} openIssueCount }} }}"
PROGRESS = """query($c: ID!) { campaign(id: $c) { status completedAt progress { totalTasks inProgress toRework done skipped percent
  byStep { step { name } count } } } }"""
ASSETS = "mutation($i: AddAssetsInput!) { addAssets(input: $i) { assets { id filename } errors { code field } } }"


def mutation(name: str, input_type: str, fields: str = f"task {{ {TASK_FIELDS} }} errors {{ code field message }}") -> str:
    return f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {fields} }} }}"


START = mutation("startTask", "TaskInput")
SAVE = mutation("saveAnnotation", "SaveAnnotationInput")
SUBMIT = mutation("submitTask", "SubmitTaskInput")
REWORK = mutation("sendTaskToRework", "SendToReworkInput")
SKIP = mutation("skipTask", "SkipTaskInput")
REASSIGN = mutation("reassignTask", "ReassignTaskInput")
REASSIGN_MANY = mutation("reassignTasks", "ReassignTasksInput", f"tasks {{ {TASK_FIELDS} }} errors {{ code field message }}")
BOX = {"label": "car", "kind": "RECTANGLE", "points": [{"x": 1, "y": 1}, {"x": 5, "y": 5}]}
ISSUE = {"kind": "IMAGE", "body": "The car is cut off."}


async def add_assets(api, world, names, annotated=()):
    assets = [{"filename": n, "width": 100, "height": 100, **({"shapes": [BOX]} if n in annotated else {})} for n in names]
    payload = (await api.data(ASSETS, {"i": {"datasetVersionId": world.ids["version"], "assets": assets}}, world.manager))["addAssets"]
    assert payload["errors"] == []
    return payload["assets"]


async def campaign_with_steps(api, world, steps, **settings) -> tuple[str, list[str]]:
    """A DRAFT campaign on the world's version with `steps` = [(name, type, [usernames])]."""
    campaign = (await api.data(CREATE, {"v": world.ids["version"]}, world.manager))["createCampaign"]["campaign"]["id"]
    step_ids = []
    users = {"manager1": world.ids["manager"], "contributor1": world.ids["contributor"], "labeler1": world.ids["labeler"],
             "member1": world.ids["member"], "admin1": world.ids["admin"]}
    for name, step_type, assignees in steps:
        result = await api.data(ADD_STEP, {"i": {"campaignId": campaign, "name": name, "type": step_type,
                                                 "assigneeIds": [users[u] for u in assignees]}}, world.manager)
        assert result["addStep"]["errors"] == [], result
        step_ids.append(result["addStep"]["step"]["id"])
    if settings:
        result = await api.data(UPDATE, {"i": {"campaignId": campaign, **settings}}, world.manager)
        assert result["updateCampaign"]["errors"] == []
    return campaign, step_ids


async def all_tasks(api, world, campaign, token=None) -> list[dict]:
    data = await api.data(TASKS, {"c": campaign, "first": 500}, token or world.manager)
    return [edge["node"] for edge in data["campaign"]["tasks"]["edges"]]


ANNOTATE_THEN_REVIEW = [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])]


async def launched_annotate_then_review(api, world) -> tuple[str, dict[str, str]]:
    """A launched campaign of ANNOTATE_THEN_REVIEW on two assets: its id, and its two tasks' ids
    by assignee (labeler1, contributor1)."""
    await add_assets(api, world, ["a.jpg", "b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, ANNOTATE_THEN_REVIEW)
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    return campaign, {t["assignee"]["username"]: t["id"] for t in await all_tasks(api, world, campaign)}


async def act(api, query, variables, token) -> dict:
    """The payload of a task mutation (its single root field)."""
    data = await api.data(query, {"i": variables}, token)
    return next(iter(data.values()))


@asynccontextmanager
async def streams_by_type(bus, channel: str):
    """One bus channel's messages split by their `type` (task, issue, range): one stream each."""
    queues = {kind: asyncio.Queue() for kind in ("task", "issue", "range")}

    async def stream(queue):
        while True:
            yield await queue.get()

    async with bus.subscribe(channel) as messages:
        async def pump():
            async for message in messages:
                queues[message["type"]].put_nowait(message)

        pumping = asyncio.create_task(pump())
        try:
            yield {kind: stream(queue) for kind, queue in queues.items()}
        finally:
            pumping.cancel()
