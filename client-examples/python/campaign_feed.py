#!/usr/bin/env python3
"""An integrator's script with `gql`: plays an annotation campaign and follows it live.

Run it with the project's venv (gql comes with the test extra: .venv/bin/pip install -e '.[test]'),
against a running server (`./dev.sh serve` or `.venv/bin/stepwise serve`):

    .venv/bin/python client-examples/python/campaign_feed.py
    .venv/bin/python client-examples/python/campaign_feed.py --url http://127.0.0.1:8000/graphql --suffix acme

What it does, printing each step:

  1. a manager and a labeler sign up; the manager creates the organization, invites the labeler
     (UNPRIVILEGED), creates a dataset with the labeler as LABELER, and a version of 6 assets, one
     of them with a pre-existing annotation;
  2. a campaign Annotate (labeler) -> Review (manager), pre-annotated assets straight to Review
     (FIRST_QUALITY_CHECK), launched;
  3. a follower reads the campaign's `eventCursor` and subscribes to `taskUpdates` after it, over
     the websocket (graphql-transport-ws); halfway through, its connection drops (on purpose,
     with --drop-after) and it subscribes again after the last cursor it received;
  4. meanwhile the labeler submits every task; the manager accepts some, sends one back to rework
     with an issue, skips one with a zone issue; the labeler reworks; the manager resolves the
     issue and accepts: the campaign is COMPLETED;
  5. the follower's updates are compared with every task's `events`: none missed, none repeated.

Exit status: 0 when all went as expected; 1 with an `error: ...` line on stderr for any
unexpected GraphQL error or refusal; 2 when the server cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections import Counter

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
PASSWORD = "campaign-Feed-2024"
BOX = [{"label": "car", "kind": "RECTANGLE", "points": [{"x": 40, "y": 60}, {"x": 340, "y": 260}]}]
RESULT = "errors { code message field }"

SIGN_UP = f"mutation SignUp($i: SignUpInput!) {{ signUp(input: $i) {{ token user {{ id }} {RESULT} }} }}"
CREATE_ORG = f"mutation($i: CreateOrganizationInput!) {{ createOrganization(input: $i) {{ organization {{ id }} {RESULT} }} }}"
INVITE = f"mutation($i: InviteMemberInput!) {{ inviteMember(input: $i) {{ membership {{ role }} {RESULT} }} }}"
CREATE_DATASET = f"mutation($i: CreateDatasetInput!) {{ createDataset(input: $i) {{ dataset {{ id }} {RESULT} }} }}"
ADD_WORKER = f"mutation($i: AddDatasetWorkerInput!) {{ addDatasetWorker(input: $i) {{ worker {{ role }} {RESULT} }} }}"
CREATE_VERSION = f"mutation($i: CreateDatasetVersionInput!) {{ createDatasetVersion(input: $i) {{ datasetVersion {{ id }} {RESULT} }} }}"
ADD_ASSETS = f"mutation($i: AddAssetsInput!) {{ addAssets(input: $i) {{ assets {{ id }} {RESULT} }} }}"
CREATE_CAMPAIGN = f"mutation($i: CreateCampaignInput!) {{ createCampaign(input: $i) {{ campaign {{ id }} {RESULT} }} }}"
ADD_STEP = f"mutation($i: AddStepInput!) {{ addStep(input: $i) {{ step {{ id }} {RESULT} }} }}"
CONFIGURE = f"mutation($i: UpdateCampaignInput!) {{ updateCampaign(input: $i) {{ campaign {{ id }} {RESULT} }} }}"
LAUNCH = f"mutation($i: LaunchCampaignInput!) {{ launchCampaign(input: $i) {{ campaign {{ status }} {RESULT} }} }}"
SNAPSHOT = "query($c: ID!) { campaign(id: $c) { eventCursor status progress { totalTasks byStep { step { name } count } } } }"
MY_TASKS = "query($o: ID!) { myTasks(organizationId: $o) { tasks { id version step { name } asset { filename } } } }"
SUBMIT = f"mutation($i: SubmitTaskInput!) {{ submitTask(input: $i) {{ task {{ status }} {RESULT} }} }}"
REWORK = f"mutation($i: SendToReworkInput!) {{ sendTaskToRework(input: $i) {{ task {{ status }} {RESULT} }} }}"
SKIP = f"mutation($i: SkipTaskInput!) {{ skipTask(input: $i) {{ task {{ status }} {RESULT} }} }}"
TASK_ISSUES = "query($t: ID!) { task(id: $t) { issues(status: OPEN) { id } } }"
RESOLVE = f"mutation($i: CommentIssueInput!) {{ resolveIssue(input: $i) {{ issue {{ status }} {RESULT} }} }}"
EVENTS = """query($c: ID!) { campaign(id: $c) { status progress { done skipped }
  tasks(first: 500) { edges { node { id events { kind } } } } } }"""
TASK_FEED = """subscription TaskFeed($c: ID!, $after: String) { taskUpdates(campaignId: $c, after: $after) {
  cursor kind task { id asset { filename } step { name } } actor { username } } }"""


class StoryError(Exception):
    """Something the script did not expect; its message is shown to the user."""


class Person:
    """One person's session with the API over HTTP, with their own token."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name, self.token = url, name, None
        self.session = None

    async def sign_up(self) -> str:
        async with Client(transport=HTTPXAsyncTransport(self.url, timeout=30)) as session:
            payload = (await run(session, SIGN_UP, {"i": {"username": self.name, "email": f"{self.name}@example.com",
                                                          "password": PASSWORD}}))["signUp"]
        check(payload, f"signUp by {self.name}")
        self.token = payload["token"]
        transport = HTTPXAsyncTransport(self.url, timeout=30, headers={"authorization": f"Bearer {self.token}"})
        self.session = await Client(transport=transport).connect_async()
        return payload["user"]["id"]

    async def close(self) -> None:
        if self.session is not None:
            await self.session.client.close_async()

    async def ask(self, query: str, **variables) -> dict:
        return await run(self.session, query, variables)

    async def do(self, mutation: str, what: str, **input_fields) -> dict:
        data = await run(self.session, mutation, {"i": input_fields})
        payload = next(iter(data.values()))
        check(payload, f"{what} by {self.name}")
        return payload


async def run(session, query: str, variables: dict) -> dict:
    try:
        return await session.execute(GraphQLRequest(query, variable_values=variables))
    except TransportQueryError as error:  # a top-level error: the request was refused as a whole
        first = (error.errors or [{}])[0]
        raise StoryError(f"{first.get('message')} ({first.get('extensions', {}).get('code')})") from None


def check(payload: dict, what: str) -> None:
    if payload["errors"]:
        error = payload["errors"][0]
        raise StoryError(f"{what} was refused: {error['code']} at {error['field']}: {error['message']}")


class Follower:
    """Follows taskUpdates from a cursor over the websocket; whenever the connection drops it
    subscribes again after the last cursor it received, so nothing is missed or repeated."""

    def __init__(self, url: str, token: str, campaign_id: str, after: str, drop_after: int) -> None:
        self.ws_url = url.replace("http", "ws", 1)
        self.token, self.campaign_id, self.cursor = token, campaign_id, after
        self.drop_after = drop_after
        self.updates: list[dict] = []
        self.resumed = 0

    async def follow(self) -> None:
        while True:
            transport = WebsocketsTransport(url=self.ws_url, init_payload={"Authorization": f"Bearer {self.token}"},
                                            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
            try:
                async with Client(transport=transport) as session:
                    request = GraphQLRequest(TASK_FEED, variable_values={"c": self.campaign_id, "after": self.cursor})
                    async for data in session.subscribe(request):
                        self.receive(data["taskUpdates"])
                        if len(self.updates) == self.drop_after:
                            print(f"  [feed] dropping the connection after {self.drop_after} updates (on purpose)")
                            break  # leaving the block closes the websocket
                # Offline for a moment, as after a network blip: the work goes on meanwhile.
                await asyncio.sleep(1)
            except (TransportError, OSError) as error:
                if isinstance(error, TransportQueryError):  # refused (a bad cursor, no access): no retry helps
                    raise StoryError(f"taskUpdates was refused: {error}") from None
                print(f"  [feed] connection lost ({error.__class__.__name__}); resuming shortly")
                await asyncio.sleep(0.5)
            self.resumed += 1
            print(f"  [feed] subscribing again after cursor {self.cursor}")

    def receive(self, update: dict) -> None:
        self.cursor = update["cursor"]  # where to resume from
        self.updates.append(update)
        task, step = update["task"], update["task"]["step"]
        who = update["actor"]["username"] if update["actor"] else "the server"
        where = f"  now at {step['name']}" if step else ""
        print(f"  [feed] {update['kind']:<14} {task['asset']['filename']}  by {who}{where}")


async def story(url: str, suffix: str, assets: int, drop_after: int) -> None:
    manager, labeler = Person(url, f"manager-{suffix}"), Person(url, f"labeler-{suffix}")
    await manager.sign_up()
    labeler_id = await labeler.sign_up()
    print(f"signed up {manager.name} and {labeler.name}")
    org = (await manager.do(CREATE_ORG, "createOrganization", name=f"Feed {suffix}"))["organization"]["id"]
    await manager.do(INVITE, "inviteMember", organizationId=org, usernameOrEmail=labeler.name, role="UNPRIVILEGED")
    dataset = (await manager.do(CREATE_DATASET, "createDataset", organizationId=org, name="Street scenes"))["dataset"]["id"]
    await manager.do(ADD_WORKER, "addDatasetWorker", datasetId=dataset, userId=labeler_id, role="LABELER")
    version = (await manager.do(CREATE_VERSION, "createDatasetVersion", datasetId=dataset, name="v1",
                                labels=["car", "person"]))["datasetVersion"]["id"]
    await manager.do(ADD_ASSETS, "addAssets", datasetVersionId=version, assets=[
        {"filename": f"street-{i:03d}.jpg", "width": 1280, "height": 720, "url": f"https://images.example.com/street-{i:03d}.jpg",
         **({"shapes": BOX} if i == 0 else {})} for i in range(assets)])
    print(f"organization, dataset and version v1 with {assets} assets (street-000.jpg pre-annotated)")

    manager_id = (await manager.ask("{ me { id } }"))["me"]["id"]
    campaign = (await manager.do(CREATE_CAMPAIGN, "createCampaign", datasetVersionId=version))["campaign"]["id"]
    await manager.do(ADD_STEP, "addStep", campaignId=campaign, name="Annotate", type="ANNOTATION", assigneeIds=[labeler_id])
    await manager.do(ADD_STEP, "addStep", campaignId=campaign, name="Review", type="REVIEW", assigneeIds=[manager_id])
    await manager.do(CONFIGURE, "updateCampaign", campaignId=campaign, preexistingAnnotationStrategy="FIRST_QUALITY_CHECK")
    await manager.do(LAUNCH, "launchCampaign", campaignId=campaign)
    snapshot = (await manager.ask(SNAPSHOT, c=campaign))["campaign"]
    steps = ", ".join(f"{s['step']['name']} {s['count']}" for s in snapshot["progress"]["byStep"])
    print(f"campaign launched: {snapshot['progress']['totalTasks']} tasks ({steps}); following it from its eventCursor")

    follower = Follower(url, manager.token, campaign, snapshot["eventCursor"], drop_after)
    feed = asyncio.create_task(follower.follow())
    await asyncio.sleep(0.5)  # the first subscription is up (it would catch up from the cursor anyway)
    try:
        await work(manager, labeler, org)
        await check_feed(manager, campaign, follower, feed)
    finally:
        feed.cancel()
        await asyncio.gather(feed, return_exceptions=True)
        await manager.close()
        await labeler.close()


async def tasks_of(person: Person, org: str) -> list[dict]:
    groups = (await person.ask(MY_TASKS, o=org))["myTasks"]
    return [task for group in groups for task in group["tasks"]]


async def work(manager: Person, labeler: Person, org: str) -> None:
    for task in await tasks_of(labeler, org):
        await labeler.do(SUBMIT, "submitTask", taskId=task["id"], shapes=BOX, expectedVersion=task["version"])
    print("the labeler submitted every annotation task")
    reviews = await tasks_of(manager, org)
    reworked, skipped = reviews[1], reviews[-1]
    await manager.do(REWORK, "sendTaskToRework", taskId=reworked["id"], expectedVersion=reworked["version"],
                     issue={"kind": "IMAGE", "body": "The car is cut off: box the whole car."})
    await manager.do(SKIP, "skipTask", taskId=skipped["id"], expectedVersion=skipped["version"],
                     issue={"kind": "ZONE", "zone": {"x": 600, "y": 100, "width": 300, "height": 250}, "body": "Unreadable."})
    for task in reviews:
        if task not in (reworked, skipped):
            await manager.do(SUBMIT, "submitTask", taskId=task["id"], expectedVersion=task["version"])
    print(f"the manager accepted {len(reviews) - 2}, sent {reworked['asset']['filename']} to rework, "
          f"skipped {skipped['asset']['filename']}")
    [again] = await tasks_of(labeler, org)
    await labeler.do(SUBMIT, "submitTask", taskId=again["id"], shapes=BOX, expectedVersion=again["version"])
    [review] = await tasks_of(manager, org)
    [issue] = (await manager.ask(TASK_ISSUES, t=review["id"]))["task"]["issues"]
    await manager.do(RESOLVE, "resolveIssue", issueId=issue["id"], body="Fixed, thanks.")
    await manager.do(SUBMIT, "submitTask", taskId=review["id"], expectedVersion=review["version"])
    print(f"the labeler reworked {again['asset']['filename']}; the manager resolved the issue and accepted it")


async def check_feed(manager: Person, campaign: str, follower: Follower, feed: asyncio.Task) -> None:
    """Every event after the snapshot's cursor is each task's events but the CREATED of launch."""
    final = (await manager.ask(EVENTS, c=campaign))["campaign"]
    expected = Counter()
    for edge in final["tasks"]["edges"]:
        kinds = [event["kind"] for event in edge["node"]["events"]]
        assert kinds[0] == "CREATED"
        expected.update((edge["node"]["id"], kind) for kind in kinds[1:])
    total = sum(expected.values())
    for _ in range(100):  # the last updates may still be on their way: up to 10 s
        if len(follower.updates) >= total or feed.done():
            break
        await asyncio.sleep(0.1)
    if feed.done() and feed.exception():
        raise feed.exception()
    received = Counter((update["task"]["id"], update["kind"]) for update in follower.updates)
    cursors = [update["cursor"] for update in follower.updates]
    if received != expected or len(set(cursors)) != len(cursors):
        raise StoryError(f"the feed does not match the task events: missing {dict(expected - received)}, "
                         f"extra {dict(received - expected)}")
    print(f"campaign {final['status']}: {final['progress']['done']} done, {final['progress']['skipped']} skipped")
    print(f"followed {total} task updates, resumed {follower.resumed} time(s) after a dropped connection: "
          "none missed, none repeated")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="the GraphQL endpoint")
    parser.add_argument("--suffix", default=secrets.token_hex(3), help="appended to the usernames; a new one per run")
    parser.add_argument("--assets", type=int, default=6, help="how many assets (at least 3)")
    parser.add_argument("--drop-after", type=int, default=5, help="drop the feed's connection after this many updates (0: never)")
    args = parser.parse_args()
    try:
        asyncio.run(story(args.url, args.suffix, max(3, args.assets), args.drop_after))
    except StoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (httpx.TransportError, OSError, TransportError) as error:
        print(f"error: cannot reach {args.url} ({error.__class__.__name__}); is `stepwise serve` running?", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
