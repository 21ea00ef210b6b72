#!/usr/bin/env python3
"""An annotation campaign from start to finish, through Stepwise's GraphQL API, step by step.

Three people take part, each with their own account and token, as they would in real life:

  - a manager, who signs up, creates the organization, the dataset and the campaign, and reviews;
  - a contributor (organization MEMBER, dataset CONTRIBUTOR), who annotates;
  - a labeler (organization UNPRIVILEGED, dataset LABELER), who annotates and sees nothing else.

What it does, printing each step:

  1. sign-ups, the organization, invitations, the dataset and its workers;
  2. a version with labels and 8 assets, 2 of them with a pre-existing annotation;
  3. a campaign with the workflow Annotate (labeler, contributor) -> Review (manager), the
     FIRST_QUALITY_CHECK strategy (pre-annotated assets go straight to Review), then launch;
  4. each worker lists `myTasks`, starts and submits their annotation tasks with shapes;
  5. the manager reviews: accepts some as they are (DONE), edits one before accepting it, sends
     one back to rework with an issue (it returns TO_REWORK to the labeler who submitted it) and
     skips one with a zone issue;
  6. the labeler reads the issue, replies, reworks the annotation and submits it again;
  7. the manager cannot accept it while the issue is open (OPEN_ISSUES), resolves the issue and
     accepts it; the remaining reviews are accepted and the campaign is COMPLETED;
  8. the reworked task's history and events, and the final progress.

Run it against a server started with `stepwise serve`:

    python client-examples/campaign_story.py --url http://127.0.0.1:8000/graphql

It needs only httpx (`pip install httpx`) and the standard library. It exits with status 1 and
a one-line `error:` message on any GraphQL error or refusal it did not expect, and with status 2
when the server cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
DEFAULT_PASSWORD = "campaign-Story-2024"
LABELS = ["car", "person", "bicycle"]
ASSET_COUNT = 8
PREANNOTATED = {2, 5}  # indexes of the assets that come with an annotation


class StoryError(Exception):
    """Something the script did not expect; its message is shown to the user."""


class GraphQLClient:
    """A minimal GraphQL-over-HTTP client for one person: one POST per operation, with their token."""

    def __init__(self, url: str, who: str, timeout: float = 30.0) -> None:
        self.url = url
        self.who = who
        self.token: str | None = None
        self.http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def post(self, query: str, variables: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
        """The response body and the server's request id."""
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.http.post(self.url, json={"query": query, "variables": variables or {}}, headers=headers)
        try:
            body = response.json()
        except ValueError:
            raise StoryError(f"HTTP {response.status_code} from {self.url}, not a GraphQL response") from None
        return body, response.headers.get("x-request-id", "-")

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The operation's `data`; any top-level GraphQL error is unexpected here."""
        body, request_id = self.post(query, variables)
        if body.get("errors"):
            first = body["errors"][0]
            code = (first.get("extensions") or {}).get("code", "no code")
            raise StoryError(f"GraphQL error {code} for {self.who}: {first.get('message')} (request id {request_id})")
        if body.get("data") is None:
            raise StoryError(f"a response without data for {self.who} (request id {request_id})")
        return body["data"]

    def mutate(self, query: str, variables: dict[str, Any], name: str) -> dict[str, Any]:
        """A mutation's payload, which must report no business-rule `errors`."""
        payload = self.execute(query, variables)[name]
        if payload["errors"]:
            described = "; ".join(f"{e['code']} at {e.get('field')}: {e['message']}" for e in payload["errors"])
            raise StoryError(f"{name} by {self.who} was refused: {described}")
        return payload

    def refused(self, query: str, variables: dict[str, Any], name: str, code: str) -> dict[str, Any]:
        """The business-rule error a mutation must answer with (`code`); anything else is unexpected."""
        payload = self.execute(query, variables)[name]
        codes = [error["code"] for error in payload["errors"]]
        if codes != [code]:
            raise StoryError(f"{name} by {self.who} should have been refused with {code}, got {codes or 'success'}")
        return payload["errors"][0]

    def denied(self, query: str, variables: dict[str, Any], code: str) -> str:
        """The top-level error code a query must answer with; its message."""
        body, _ = self.post(query, variables)
        codes = [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]
        if code not in codes:
            raise StoryError(f"{self.who} should have been denied with {code}, got {codes or 'data'}")
        return body["errors"][0]["message"]


# ------------------------------------------------------------------------------ operations

PAYLOAD_ERRORS = "errors { code field message }"

SIGN_UP = f"""
mutation SignUp($input: SignUpInput!) {{ signUp(input: $input) {{ token user {{ id username }} {PAYLOAD_ERRORS} }} }}"""

CREATE_ORGANIZATION = f"""
mutation CreateOrganization($input: CreateOrganizationInput!) {{
  createOrganization(input: $input) {{ organization {{ id name viewerRole }} {PAYLOAD_ERRORS} }}
}}"""

INVITE_MEMBER = f"""
mutation InviteMember($input: InviteMemberInput!) {{
  inviteMember(input: $input) {{ membership {{ user {{ username }} role }} {PAYLOAD_ERRORS} }}
}}"""

CREATE_DATASET = f"""
mutation CreateDataset($input: CreateDatasetInput!) {{
  createDataset(input: $input) {{ dataset {{ id name viewerRole }} {PAYLOAD_ERRORS} }}
}}"""

ADD_WORKER = f"""
mutation AddWorker($input: AddDatasetWorkerInput!) {{
  addDatasetWorker(input: $input) {{ worker {{ user {{ username }} role }} {PAYLOAD_ERRORS} }}
}}"""

CREATE_VERSION = f"""
mutation CreateVersion($input: CreateDatasetVersionInput!) {{
  createDatasetVersion(input: $input) {{ datasetVersion {{ id name labels {{ name }} }} {PAYLOAD_ERRORS} }}
}}"""

ADD_ASSETS = f"""
mutation AddAssets($input: AddAssetsInput!) {{
  addAssets(input: $input) {{ assets {{ id filename annotation {{ shapes {{ label {{ name }} }} }} }} {PAYLOAD_ERRORS} }}
}}"""

CREATE_CAMPAIGN = f"""
mutation CreateCampaign($input: CreateCampaignInput!) {{
  createCampaign(input: $input) {{ campaign {{ id status }} {PAYLOAD_ERRORS} }}
}}"""

ADD_STEP = f"""
mutation AddStep($input: AddStepInput!) {{
  addStep(input: $input) {{ step {{ id name type position assignees {{ username }} }} {PAYLOAD_ERRORS} }}
}}"""

UPDATE_CAMPAIGN = f"""
mutation UpdateCampaign($input: UpdateCampaignInput!) {{
  updateCampaign(input: $input) {{
    campaign {{ attributionPolicy preexistingAnnotationStrategy newAssetPolicy }} {PAYLOAD_ERRORS}
  }}
}}"""

LAUNCH_CAMPAIGN = f"""
mutation LaunchCampaign($input: LaunchCampaignInput!) {{
  launchCampaign(input: $input) {{ campaign {{ id status launchedAt }} {PAYLOAD_ERRORS} }}
}}"""

CAMPAIGN_TASKS = """
query CampaignTasks($id: ID!) {
  campaign(id: $id) {
    tasks(first: 100) {
      totalCount
      edges { node { id status step { name } assignee { username } asset { filename } } }
    }
  }
}"""

MY_TASKS = """
query MyTasks($organizationId: ID!) {
  myTasks(organizationId: $organizationId) {
    campaign { id }
    datasetVersion { name }
    tasks { id status version step { name } asset { filename } annotation { shapes { label { name } } } }
  }
}"""

MY_ISSUES = """
query MyIssues($organizationId: ID!) {
  myIssues(organizationId: $organizationId, status: OPEN) {
    id kind status asset { filename } author { username } step { name }
    comments { author { username } action body }
  }
}"""

TASK_RESULT = f"""task {{ id status version step {{ name }} assignee {{ username }} asset {{ filename }}
  annotation {{ shapes {{ label {{ name }} }} }} }} {PAYLOAD_ERRORS}"""

START_TASK = f"mutation StartTask($input: TaskInput!) {{ startTask(input: $input) {{ {TASK_RESULT} }} }}"
SUBMIT_TASK = f"mutation SubmitTask($input: SubmitTaskInput!) {{ submitTask(input: $input) {{ {TASK_RESULT} }} }}"
SEND_TO_REWORK = f"""
mutation SendToRework($input: SendToReworkInput!) {{ sendTaskToRework(input: $input) {{ {TASK_RESULT} }} }}"""
SKIP_TASK = f"mutation SkipTask($input: SkipTaskInput!) {{ skipTask(input: $input) {{ {TASK_RESULT} }} }}"

ISSUE_RESULT = f"issue {{ id status comments {{ author {{ username }} action body }} }} {PAYLOAD_ERRORS}"
REPLY_TO_ISSUE = f"mutation Reply($input: CommentIssueInput!) {{ replyToIssue(input: $input) {{ {ISSUE_RESULT} }} }}"
RESOLVE_ISSUE = f"mutation Resolve($input: CommentIssueInput!) {{ resolveIssue(input: $input) {{ {ISSUE_RESULT} }} }}"

TASK_STORY = """
query TaskStory($id: ID!) {
  task(id: $id) {
    status
    asset { filename annotation { shapes { label { name } area } } }
    history { step { name } state assignee { username } submittedAt annotation { shapes { label { name } area } } }
    events { kind step { name } actor { username } assignee { username } at }
    issues { kind status comments { author { username } action body } }
  }
}"""

PROGRESS = """
query Progress($id: ID!) {
  campaign(id: $id) {
    status completedAt
    progress { totalTasks inProgress toRework done skipped percent byStep { step { name } count } }
  }
}"""


# ------------------------------------------------------------------------------ the walkthrough

def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def detail(message: str) -> None:
    print(f"    {message}", flush=True)


def rectangle(label: str, x: float, y: float, width: float, height: float) -> dict[str, Any]:
    """A RECTANGLE shape is given by its top-left and bottom-right corners."""
    return {"label": label, "kind": "RECTANGLE", "points": [{"x": x, "y": y}, {"x": x + width, "y": y + height}]}


def filename(index: int) -> str:
    return f"street-{index:03d}.jpg"


def index_of(name: str) -> int:
    return int(name.removeprefix("street-").removesuffix(".jpg"))


def preexisting_shapes(index: int) -> list[dict[str, Any]]:
    """What an earlier labeling tool left on the pre-annotated assets."""
    return [rectangle("car", 100 + 20 * index, 200, 280, 140), rectangle("person", 700, 180, 60, 170)]


def drawn_shapes(index: int) -> list[dict[str, Any]]:
    """What a worker draws on an asset at the Annotate step: one car."""
    return [rectangle("car", 100 + 20 * index, 200, 300, 150)]


def reworked_shapes(index: int) -> list[dict[str, Any]]:
    """The labeler's second attempt, after the review: the whole car this time."""
    return [rectangle("car", 80 + 20 * index, 190, 360, 170)]


def shape_names(annotation: dict[str, Any] | None) -> str:
    if not annotation or not annotation["shapes"]:
        return "no shapes"
    return ", ".join(shape["label"]["name"] for shape in annotation["shapes"])


def assets_to_add() -> list[dict[str, Any]]:
    assets = []
    for i in range(ASSET_COUNT):
        asset: dict[str, Any] = {
            "filename": filename(i), "width": 1280, "height": 720,
            "url": f"https://images.example.com/{filename(i)}",
        }
        if i in PREANNOTATED:
            asset["shapes"] = preexisting_shapes(i)
        assets.append(asset)
    return assets


def sign_up(client: GraphQLClient, username: str, password: str) -> str:
    """Signs `client` in as a new account; its user id."""
    variables = {"input": {"username": username, "email": f"{username}@example.com", "password": password}}
    payload = client.mutate(SIGN_UP, variables, "signUp")
    client.token = payload["token"]
    return payload["user"]["id"]


def my_tasks(client: GraphQLClient, organization_id: str, campaign_id: str) -> list[dict[str, Any]]:
    """The viewer's active tasks in the campaign, as their `myTasks` shows them (printed)."""
    groups = client.execute(MY_TASKS, {"organizationId": organization_id})["myTasks"]
    tasks = [task for group in groups if group["campaign"]["id"] == campaign_id for task in group["tasks"]]
    detail(f"{client.who} has {len(tasks)} task(s):")
    for task in tasks:
        detail(f"  {task['asset']['filename']}  {task['step']['name']:<8} {task['status']:<11} "
               f"({shape_names(task['annotation'])})")
    return tasks


def expect_task(task: dict[str, Any], status: str, step_name: str | None, assignee: str | None) -> None:
    """The task must now be where the rules put it."""
    where = (task["status"], task["step"] and task["step"]["name"], task["assignee"] and task["assignee"]["username"])
    if where != (status, step_name, assignee):
        raise StoryError(f"{task['asset']['filename']} is {where}, expected {(status, step_name, assignee)}")


def show_progress(client: GraphQLClient, campaign_id: str) -> dict[str, Any]:
    campaign = client.execute(PROGRESS, {"id": campaign_id})["campaign"]
    progress = campaign["progress"]
    detail(f"campaign {campaign['status']}: {progress['percent']:.1f}% of step submissions made; "
           f"{progress['totalTasks']} tasks: {progress['inProgress']} in progress, {progress['toRework']} to rework, "
           f"{progress['done']} done, {progress['skipped']} skipped")
    if progress["byStep"]:
        detail("active tasks per step: " + ", ".join(f"{s['step']['name']} {s['count']}" for s in progress["byStep"]))
    return campaign


def run(args: argparse.Namespace) -> dict[str, Any]:
    suffix = args.suffix or secrets.token_hex(4)
    names = {role: f"{role}-{suffix}" for role in ("manager", "contributor", "labeler")}
    manager = GraphQLClient(args.url, names["manager"])
    contributor = GraphQLClient(args.url, names["contributor"])
    labeler = GraphQLClient(args.url, names["labeler"])
    try:
        # ---------------------------------------------------------------- people and data
        step(f"Signing up the manager {names['manager']!r}, the contributor and the labeler")
        ids = {}
        for client in (manager, contributor, labeler):
            ids[client.who] = sign_up(client, client.who, args.password)
            detail(f"{client.who} signed up (password: {args.password})")

        step("The manager creates an organization (and becomes its ADMIN)")
        organization = manager.mutate(
            CREATE_ORGANIZATION, {"input": {"name": f"Campaign story {suffix}"}}, "createOrganization"
        )["organization"]
        detail(f"{organization['name']} ({organization['id']}), role: {organization['viewerRole']}")

        step("Inviting the contributor as MEMBER and the labeler as UNPRIVILEGED")
        for client, role in ((contributor, "MEMBER"), (labeler, "UNPRIVILEGED")):
            membership = manager.mutate(
                INVITE_MEMBER,
                {"input": {"organizationId": organization["id"], "usernameOrEmail": client.who, "role": role}},
                "inviteMember",
            )["membership"]
            detail(f"{membership['user']['username']} joined as {membership['role']}")

        step("Creating a dataset and adding the workers: CONTRIBUTOR and LABELER")
        dataset = manager.mutate(
            CREATE_DATASET, {"input": {"organizationId": organization["id"], "name": "Street scenes"}}, "createDataset"
        )["dataset"]
        detail(f"{dataset['name']} ({dataset['id']}), the manager's role: {dataset['viewerRole']}")
        for client, role in ((contributor, "CONTRIBUTOR"), (labeler, "LABELER")):
            worker = manager.mutate(
                ADD_WORKER, {"input": {"datasetId": dataset["id"], "userId": ids[client.who], "role": role}},
                "addDatasetWorker",
            )["worker"]
            detail(f"{worker['user']['username']} is {worker['role']}")

        step(f"Creating version 'v1' with labels {', '.join(LABELS)} and {ASSET_COUNT} assets")
        version = manager.mutate(
            CREATE_VERSION, {"input": {"datasetId": dataset["id"], "name": "v1", "labels": LABELS}},
            "createDatasetVersion",
        )["datasetVersion"]
        added = manager.mutate(
            ADD_ASSETS, {"input": {"datasetVersionId": version["id"], "assets": assets_to_add()}}, "addAssets"
        )["assets"]
        for asset in added:
            if asset["annotation"]:
                detail(f"{asset['filename']} comes with a pre-existing annotation ({shape_names(asset['annotation'])})")
        detail(f"{len(added)} assets in {version['name']} ({version['id']})")

        # ---------------------------------------------------------------- the campaign
        step("Creating the campaign (DRAFT)")
        campaign = manager.mutate(
            CREATE_CAMPAIGN, {"input": {"datasetVersionId": version["id"]}}, "createCampaign"
        )["campaign"]
        campaign_id = campaign["id"]
        detail(f"campaign {campaign_id}: {campaign['status']}")

        step("Adding the workflow steps: Annotate (labeler, contributor), then Review (manager)")
        for name, step_type, assignees in (
            ("Annotate", "ANNOTATION", [labeler, contributor]),
            ("Review", "REVIEW", [manager]),
        ):
            added_step = manager.mutate(
                ADD_STEP,
                {"input": {"campaignId": campaign_id, "name": name, "type": step_type,
                           "assigneeIds": [ids[client.who] for client in assignees]}},
                "addStep",
            )["step"]
            detail(f"step {added_step['position']}: {added_step['name']} ({added_step['type']}), assignees: "
                   f"{', '.join(user['username'] for user in added_step['assignees'])}")

        step("Setting the pre-existing annotation strategy to FIRST_QUALITY_CHECK")
        settings = manager.mutate(
            UPDATE_CAMPAIGN,
            {"input": {"campaignId": campaign_id, "preexistingAnnotationStrategy": "FIRST_QUALITY_CHECK",
                       "attributionPolicy": "ROUND_ROBIN"}},
            "updateCampaign",
        )["campaign"]
        detail(f"strategy {settings['preexistingAnnotationStrategy']}, attribution {settings['attributionPolicy']}, "
               f"new assets: {settings['newAssetPolicy']}")

        step("Launching the campaign")
        launched = manager.mutate(LAUNCH_CAMPAIGN, {"input": {"campaignId": campaign_id}}, "launchCampaign")["campaign"]
        if launched["status"] != "ONGOING":
            raise StoryError(f"the launched campaign is {launched['status']}, expected ONGOING")
        detail(f"{launched['status']} since {launched['launchedAt']}")
        tasks = manager.execute(CAMPAIGN_TASKS, {"id": campaign_id})["campaign"]["tasks"]
        detail(f"the Tasks list (manager's view) has {tasks['totalCount']} tasks:")
        for edge in tasks["edges"]:
            task = edge["node"]
            detail(f"  {task['asset']['filename']}  {task['step']['name']:<8} {task['assignee']['username']}")

        step("The labeler cannot open the Tasks list, only their own tasks")
        message = labeler.denied(CAMPAIGN_TASKS, {"id": campaign_id}, "FORBIDDEN")
        detail(f"campaign.tasks as the labeler: FORBIDDEN ({message})")

        # ---------------------------------------------------------------- annotation
        step("Each worker lists myTasks, then starts and submits their annotation tasks with shapes")
        submitted_by: dict[str, str] = {}  # task id -> who submitted it at Annotate
        annotation_tasks: dict[str, list[dict[str, Any]]] = {}
        for client in (labeler, contributor):
            annotation_tasks[client.who] = my_tasks(client, organization["id"], campaign_id)
            if not annotation_tasks[client.who]:
                raise StoryError(f"{client.who} got no task at launch")
            for task in annotation_tasks[client.who]:
                index = index_of(task["asset"]["filename"])
                started = client.mutate(START_TASK, {"input": {"taskId": task["id"]}}, "startTask")["task"]
                # expectedVersion: refused with CONFLICT if someone else changed the task meanwhile.
                moved = client.mutate(
                    SUBMIT_TASK,
                    {"input": {"taskId": task["id"], "shapes": drawn_shapes(index),
                               "expectedVersion": started["version"]}},
                    "submitTask",
                )["task"]
                expect_task(moved, "IN_PROGRESS", "Review", manager.who)
                submitted_by[task["id"]] = client.who
                detail(f"{client.who} started and submitted {task['asset']['filename']}: now at Review, "
                       f"{moved['assignee']['username']}")

        # ---------------------------------------------------------------- review
        step("The manager lists their review tasks")
        reviews = my_tasks(manager, organization["id"], campaign_id)
        if len(reviews) != ASSET_COUNT:
            raise StoryError(f"the manager has {len(reviews)} review tasks, expected {ASSET_COUNT}")
        by_name = {task["asset"]["filename"]: task for task in reviews}
        preannotated = [by_name[filename(i)] for i in sorted(PREANNOTATED)]
        from_labeler = [t for t in reviews if submitted_by.get(t["id"]) == labeler.who]
        from_contributor = [t for t in reviews if submitted_by.get(t["id"]) == contributor.who]
        if len(from_labeler) < 2 or len(from_contributor) < 2:
            raise StoryError("each worker should have annotated at least two assets")
        accepted_as_is, edited = preannotated
        to_rework, to_skip = from_labeler[0], from_contributor[-1]

        step(f"Review: {accepted_as_is['asset']['filename']} (pre-existing annotation) is right, submitting it as is")
        done = manager.mutate(SUBMIT_TASK, {"input": {"taskId": accepted_as_is["id"]}}, "submitTask")["task"]
        expect_task(done, "DONE", None, None)
        detail(f"{done['asset']['filename']}: {done['status']}")

        corrected = preexisting_shapes(index_of(edited["asset"]["filename"])) + [rectangle("bicycle", 400, 380, 120, 80)]
        step(f"Review: {edited['asset']['filename']} misses a bicycle, the manager adds it and submits")
        done = manager.mutate(
            SUBMIT_TASK, {"input": {"taskId": edited["id"], "shapes": corrected}}, "submitTask"
        )["task"]
        expect_task(done, "DONE", None, None)
        detail(f"{done['asset']['filename']}: {done['status']} ({shape_names(done['annotation'])})")

        first_ok = from_contributor[0]
        step(f"Review: {first_ok['asset']['filename']} by {contributor.who} is right, submitting it")
        done = manager.mutate(SUBMIT_TASK, {"input": {"taskId": first_ok["id"]}}, "submitTask")["task"]
        expect_task(done, "DONE", None, None)
        detail(f"{done['asset']['filename']}: {done['status']}")

        step(f"Review: {to_rework['asset']['filename']} by {labeler.who} is wrong, sending it back with an issue")
        issue_body = "The car is cut off on the left: draw the box around the whole car."
        reworked = manager.mutate(
            SEND_TO_REWORK, {"input": {"taskId": to_rework["id"], "issue": {"kind": "IMAGE", "body": issue_body}}},
            "sendTaskToRework",
        )["task"]
        expect_task(reworked, "TO_REWORK", "Annotate", labeler.who)
        detail(f"{reworked['asset']['filename']}: {reworked['status']} at {reworked['step']['name']}, back to "
               f"{reworked['assignee']['username']} who submitted it, keeping {shape_names(reworked['annotation'])}")

        step(f"Review: {to_skip['asset']['filename']} is too blurry, skipping it with a zone issue")
        skipped = manager.mutate(
            SKIP_TASK,
            {"input": {"taskId": to_skip["id"], "issue": {
                "kind": "ZONE", "zone": {"x": 600, "y": 100, "width": 300, "height": 250},
                "body": "Too blurry here to tell a car from a van: skipping."}}},
            "skipTask",
        )["task"]
        expect_task(skipped, "SKIPPED", None, None)
        detail(f"{skipped['asset']['filename']}: {skipped['status']}, out of the workflow")
        show_progress(manager, campaign_id)

        # ---------------------------------------------------------------- rework
        step("The labeler finds the task to rework and the issue explaining why")
        mine = my_tasks(labeler, organization["id"], campaign_id)
        if to_rework["id"] not in [task["id"] for task in mine]:
            raise StoryError(f"{to_rework['asset']['filename']} is not in the labeler's myTasks")
        issues = labeler.execute(MY_ISSUES, {"organizationId": organization["id"]})["myIssues"]
        on_task = [i for i in issues if i["asset"]["filename"] == to_rework["asset"]["filename"]]
        if len(on_task) != 1:
            raise StoryError(f"the labeler sees {len(on_task)} open issue(s) on their task, expected 1")
        issue = on_task[0]
        detail(f"issue {issue['id']} ({issue['kind']}, {issue['status']}) raised by {issue['author']['username']} "
               f"at {issue['step']['name']}: {issue['comments'][0]['body']!r}")

        step("The labeler replies, then starts and resubmits the task with a corrected box")
        replied = labeler.mutate(
            REPLY_TO_ISSUE, {"input": {"issueId": issue["id"], "body": "Right, the box now covers the whole car."}},
            "replyToIssue",
        )["issue"]
        detail(f"thread: {' / '.join(c['action'] for c in replied['comments'])}")
        labeler.mutate(START_TASK, {"input": {"taskId": to_rework["id"]}}, "startTask")
        resubmitted = labeler.mutate(
            SUBMIT_TASK,
            {"input": {"taskId": to_rework["id"], "shapes": reworked_shapes(index_of(to_rework["asset"]["filename"]))}},
            "submitTask",
        )["task"]
        expect_task(resubmitted, "IN_PROGRESS", "Review", manager.who)
        detail(f"{resubmitted['asset']['filename']}: back at Review, {resubmitted['assignee']['username']}")

        step("The manager cannot accept it while the issue is open")
        error = manager.refused(SUBMIT_TASK, {"input": {"taskId": to_rework["id"]}}, "submitTask", "OPEN_ISSUES")
        detail(f"refused as expected: code={error['code']} message={error['message']!r}")

        step("The manager resolves the issue and accepts the reworked annotation")
        resolved = manager.mutate(
            RESOLVE_ISSUE, {"input": {"issueId": issue["id"], "body": "Looks right now, thanks."}}, "resolveIssue"
        )["issue"]
        detail(f"issue {resolved['status']}; thread: {' / '.join(c['action'] for c in resolved['comments'])}")
        done = manager.mutate(SUBMIT_TASK, {"input": {"taskId": to_rework["id"]}}, "submitTask")["task"]
        expect_task(done, "DONE", None, None)
        detail(f"{done['asset']['filename']}: {done['status']}")

        step("The manager accepts the remaining reviews")
        remaining = my_tasks(manager, organization["id"], campaign_id)
        for task in remaining:
            done = manager.mutate(SUBMIT_TASK, {"input": {"taskId": task["id"]}}, "submitTask")["task"]
            expect_task(done, "DONE", None, None)
            detail(f"{done['asset']['filename']}: {done['status']}")

        # ---------------------------------------------------------------- the record
        step(f"What happened to {to_rework['asset']['filename']}")
        story = manager.execute(TASK_STORY, {"id": to_rework["id"]})["task"]
        detail(f"status {story['status']}; the asset's annotation: {shape_names(story['asset']['annotation'])}")
        detail("history:")
        for entry in story["history"]:
            who = entry["assignee"]["username"] if entry["assignee"] else "-"
            detail(f"  {entry['step']['name']:<8} {entry['state']:<8} {who:<20} {entry['submittedAt'] or '-'}  "
                   f"({shape_names(entry['annotation'])})")
        detail("events:")
        for event in story["events"]:
            where = event["step"]["name"] if event["step"] else "-"
            actor = event["actor"]["username"] if event["actor"] else "-"
            assignee = event["assignee"]["username"] if event["assignee"] else "-"
            detail(f"  {event['at']}  {event['kind']:<14} at {where:<8} by {actor:<20} -> {assignee}")
        for thread in story["issues"]:
            detail(f"issue ({thread['kind']}, {thread['status']}):")
            for comment in thread["comments"]:
                detail(f"  {comment['action']:<8} {comment['author']['username']}: {comment['body']!r}")

        step("Final progress")
        final = show_progress(manager, campaign_id)
        if final["status"] != "COMPLETED":
            raise StoryError(f"the campaign is {final['status']} with nothing left to do, expected COMPLETED")
        detail(f"completed at {final['completedAt']}")

        step("Done")
        detail(f"sign in as {names['manager']} (password above) to look at campaign {campaign_id} in GraphiQL")
        return {
            "campaignId": campaign_id,
            "organizationId": organization["id"],
            "datasetVersionId": version["id"],
            "manager": {"username": names["manager"], "password": args.password},
            "usernames": names,
            "reworkedTaskId": to_rework["id"],
            "skippedTaskId": to_skip["id"],
            "issueId": issue["id"],
        }
    finally:
        for client in (manager, contributor, labeler):
            client.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run an annotation campaign on a Stepwise server, from start to finish.")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the GraphQL endpoint (default {DEFAULT_URL})")
    parser.add_argument("--suffix", help="makes usernames unique (default: random)")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="password of the three new accounts")
    parser.add_argument("--json-summary", type=Path, metavar="PATH",
                        help="write the campaign id, the manager's credentials and the reworked task id there")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args)
    except StoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except httpx.TransportError as error:
        print(f"error: cannot reach {args.url}: {error}. Is `stepwise serve` running?", file=sys.stderr)
        return 2
    if args.json_summary:
        args.json_summary.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"summary written to {args.json_summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
