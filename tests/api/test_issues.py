"""Issues over GraphQL: raising them (ZONE and IMAGE), the comment thread (reply, resolve, re-open),
the events they publish, the ways to read them, who may see and discuss them, and how they gate
the last submit, rework and skip.

Every refusal (a payload error) creates nothing, changes nothing and publishes nothing; every
success publishes exactly one IssueUpdate message on the campaign's issues channel, after commit.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from campaign_helpers import (
    streams_by_type,
    LAUNCH, REWORK, SKIP, SUBMIT, TASK, act, add_assets, all_tasks, campaign_with_steps,
)
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.connection import get_connections

from stepwise.models import clock as server_clock
from stepwise.models.db.issues import Issue as IssueRow
from stepwise.models.db.issues import IssueComment as IssueCommentRow
from stepwise.schema.ids import encode_id, parse_id
from stepwise.subscriptions.channels import campaign_events

ANNOTATE_REVIEW = [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])]
NAMES = ("a.jpg", "b.jpg", "c.jpg", "d.jpg")  # round robin: a, c -> labeler1; b, d -> contributor1

ISSUE_FIELDS = """id kind status zone { x y width height } author { username } step { name } createdAt resolvedAt
  resolvedBy { username } asset { id filename } comments { id author { username } body action createdAt }"""
PAYLOAD = f"issue {{ {ISSUE_FIELDS} }} errors {{ code field message }}"
CREATE_ISSUE = f"mutation($i: CreateIssueInput!) {{ createIssue(input: $i) {{ {PAYLOAD} }} }}"
REPLY = f"mutation($i: CommentIssueInput!) {{ replyToIssue(input: $i) {{ {PAYLOAD} }} }}"
RESOLVE = f"mutation($i: CommentIssueInput!) {{ resolveIssue(input: $i) {{ {PAYLOAD} }} }}"
REOPEN = f"mutation($i: CommentIssueInput!) {{ reopenIssue(input: $i) {{ {PAYLOAD} }} }}"
ISSUE = f"query($id: ID!) {{ issue(id: $id) {{ {ISSUE_FIELDS} }} }}"
CAMPAIGN_ISSUES = """query($c: ID!, $f: IssueFilter, $first: Int, $after: String) { campaign(id: $c) {
  issues(filter: $f, first: $first, after: $after) { totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id kind status asset { filename } } } } } }"""
TASK_ISSUES = """query($t: ID!, $s: IssueStatus) { task(id: $t) { openIssueCount issues(status: $s) { id status }
  asset { issues(status: $s) { id status } } } }"""
ASSET_ISSUES = "query($t: ID!, $s: IssueStatus) { task(id: $t) { asset { issues(status: $s) { id status } } } }"
NODE_ISSUES = "query($a: ID!, $s: IssueStatus) { node(id: $a) { ... on Asset { issues(status: $s) { id status } } } }"
MY_ISSUES = "query($o: ID!, $s: IssueStatus) { myIssues(organizationId: $o, status: $s) { id status asset { filename } } }"
CAMPAIGN_STATUS = "query($c: ID!) { campaign(id: $c) { status } }"

ZONE = {"x": 10, "y": 20, "width": 30, "height": 40}
ZONE_ISSUE = {"kind": "ZONE", "zone": ZONE, "body": "A car is missing here."}
IMAGE_ISSUE = {"kind": "IMAGE", "body": "The whole image is blurry."}


# ---------------------------------------------------------------- helpers


@dataclass
class Campaign:
    id: str
    assets: dict[str, str]  # filename -> asset ID
    tasks: dict[str, str]  # filename -> task ID

    @property
    def pk(self) -> int:
        return parse_id(self.id)[1]


async def launched(api, world, steps=ANNOTATE_REVIEW, names=NAMES, **settings) -> Campaign:
    assets = await add_assets(api, world, list(names))
    campaign, _ = await campaign_with_steps(api, world, steps, **settings)
    result = await api.data(LAUNCH, {"c": campaign}, world.manager)
    assert result["launchCampaign"]["errors"] == [], result
    tasks = await all_tasks(api, world, campaign)
    return Campaign(campaign, {a["filename"]: a["id"] for a in assets}, {t["asset"]["filename"]: t["id"] for t in tasks})


def pk(global_id: str) -> int:
    return parse_id(global_id)[1]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def ok(api, query, variables, token) -> dict:
    payload = await act(api, query, variables, token)
    assert payload["errors"] == [], payload["errors"]
    return payload


async def create(api, campaign: Campaign, filename: str, issue: dict, token: str) -> dict:
    payload = await ok(api, CREATE_ISSUE, {"assetId": campaign.assets[filename], **issue}, token)
    return payload["issue"]


async def top_level_error(api, query, variables, token) -> str:
    """The code of the single top-level error of a request that must fail that way."""
    body = await api.post(query, variables, token)
    assert len(body.get("errors", [])) == 1, body
    return body["errors"][0]["extensions"]["code"]


async def asset_issues(api, world, campaign: Campaign, filename: str, status: str | None = None) -> list[dict]:
    """Asset.issues of one asset (reached through its task), as a MANAGER sees them."""
    data = await api.data(ASSET_ISSUES, {"t": campaign.tasks[filename], "s": status}, world.manager)
    return data["task"]["asset"]["issues"]


async def everything(api, world, campaign: Campaign) -> dict:
    """All issue and comment rows, and every asset's issues as the API shows them."""
    issues = sorted(await IssueRow.all().values_list("id", "asset_id", "status", "resolved_at", "resolved_by_id"))
    comments = sorted(await IssueCommentRow.all().values_list("id", "issue_id", "action", "body", "author_id"))
    shown = {filename: await asset_issues(api, world, campaign, filename) for filename in campaign.tasks}
    return {"issues": issues, "comments": comments, "shown": shown}


class Watch:
    """The campaign's issues and tasks channels on the in-process bus."""

    def __init__(self, issues, tasks) -> None:
        self.streams = {"issues": issues, "tasks": tasks}

    async def take(self, count: int, name: str = "issues") -> list[dict]:
        return [await asyncio.wait_for(anext(self.streams[name]), 2) for _ in range(count)]

    async def silent(self, seconds: float = 0.3) -> None:
        """Nothing (more) arrives on either channel within `seconds`."""
        pending = {asyncio.ensure_future(anext(stream)): name for name, stream in self.streams.items()}
        done, waiting = await asyncio.wait(pending, timeout=seconds)
        for future in waiting:
            future.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert not done, [(pending[f], f.result()) for f in done]


@asynccontextmanager
async def watching(api, campaign: Campaign):
    bus = api.app.state.bus
    async with streams_by_type(bus, campaign_events(campaign.pk)) as streams:
        yield Watch(streams["issue"], streams["task"])


async def changed(api, world, campaign: Campaign, query, variables, token, kind: str, actor: str) -> dict:
    """Run an issue mutation that must succeed: exactly one `kind` message about its issue on the
    issues channel, nothing on the tasks channel. Returns the payload's issue."""
    async with watching(api, campaign) as watch:
        payload = await act(api, query, variables, token)
        assert payload["errors"] == [], payload["errors"]
        [message] = await watch.take(1)
        await watch.silent()
    issue = payload["issue"]
    assert message["kind"] == kind
    assert message["issue_id"] == pk(issue["id"]) and message["asset_id"] == pk(issue["asset"]["id"])
    assert message["campaign_id"] == campaign.pk and message["organization_id"] == pk(world.ids["org"])
    assert message["actor_id"] == pk(world.ids[actor])
    return issue


async def refused(api, world, campaign: Campaign, query, variables, token, code, field=None) -> dict:
    """Run an issue mutation that a business rule refuses: the payload names `code` and `field`,
    its issue is null, no issue or comment changed, nothing published."""
    before = await everything(api, world, campaign)
    async with watching(api, campaign) as watch:
        payload = await act(api, query, variables, token)
        await watch.silent()
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], payload
    assert payload["errors"][0]["message"]
    assert payload["issue"] is None
    assert await everything(api, world, campaign) == before
    return payload


async def not_found(api, world, campaign: Campaign, query, variables, token) -> None:
    """A top-level NOT_FOUND; nothing changed, nothing published."""
    before = await everything(api, world, campaign)
    async with watching(api, campaign) as watch:
        assert await top_level_error(api, query, {"i": variables}, token) == "NOT_FOUND"
        await watch.silent()
    assert await everything(api, world, campaign) == before


@pytest.fixture
def frozen_clock():
    """The server's clock, standing still at a whole second until moved with `advance`."""

    class Clock:
        now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)

        def advance(self, **delta) -> datetime:
            self.now += timedelta(**delta)
            return self.now

    state = Clock()
    server_clock.set_clock(lambda: state.now)
    yield state
    server_clock.set_clock(None)


@pytest.fixture
def publications(api, monkeypatch) -> list[tuple[str, str, bool]]:
    """(channel, kind, whether a database transaction was open) for every message published."""
    bus = api.app.state.bus
    original = bus.publish
    log = []

    async def publish(channel, message):
        log.append((channel, message.get("kind"), isinstance(get_connections().get("default"), TransactionalDBClient)))
        await original(channel, message)

    monkeypatch.setattr(bus, "publish", publish)
    return log


# ---------------------------------------------------------------- createIssue


async def test_a_zone_issue_is_raised_at_the_tasks_current_step(api, world, frozen_clock):
    campaign = await launched(api, world)
    raised = await changed(api, world, campaign, CREATE_ISSUE, {"assetId": campaign.assets["a.jpg"], **ZONE_ISSUE},
                           world.labeler, "CREATED", "labeler")
    at = frozen_clock.now
    assert {k: raised[k] for k in ("kind", "status", "zone", "author", "step", "resolvedAt", "resolvedBy", "asset")} == {
        "kind": "ZONE", "status": "OPEN", "zone": {"x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0},
        "author": {"username": "labeler1"}, "step": {"name": "Annotate"}, "resolvedAt": None, "resolvedBy": None,
        "asset": {"id": campaign.assets["a.jpg"], "filename": "a.jpg"},
    }
    assert parse_time(raised["createdAt"]) == at
    [opened] = raised["comments"]
    assert (opened["author"], opened["action"], opened["body"]) == ({"username": "labeler1"}, "OPENED", "A car is missing here.")
    assert parse_time(opened["createdAt"]) == at
    # The same when read back.
    assert (await api.data(ISSUE, {"id": raised["id"]}, world.manager))["issue"] == raised

    # A zone touching the asset's edges (100x100) is inside it; an IMAGE issue has no zone.
    edge = await create(api, campaign, "a.jpg", {"kind": "ZONE", "zone": {"x": 0, "y": 0, "width": 100, "height": 100},
                                                 "body": "Everything"}, world.manager)
    assert edge["zone"] == {"x": 0.0, "y": 0.0, "width": 100.0, "height": 100.0} and edge["author"] == {"username": "manager1"}
    whole = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.contributor)
    assert whole["kind"] == "IMAGE" and whole["zone"] is None and whole["status"] == "OPEN"

    # Once the task moved on to Review, new issues are raised at Review.
    assert (await act(api, SUBMIT, {"taskId": campaign.tasks["a.jpg"]}, world.labeler))["errors"] == []
    later = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.manager)
    assert later["step"] == {"name": "Review"}
    # Earlier issues keep the step they were raised at.
    assert (await api.data(ISSUE, {"id": raised["id"]}, world.manager))["issue"]["step"] == {"name": "Annotate"}


BAD_ISSUES = [
    pytest.param({"kind": "ZONE", "body": "Where?"}, "input.zone", id="zone-missing"),
    pytest.param({**ZONE_ISSUE, "zone": None}, "input.zone", id="zone-null"),
    pytest.param({**ZONE_ISSUE, "zone": {"x": 90, "y": 10, "width": 20, "height": 20}}, "input.zone", id="past-right"),
    pytest.param({**ZONE_ISSUE, "zone": {"x": 10, "y": 81, "width": 20, "height": 20}}, "input.zone", id="past-bottom"),
    pytest.param({**ZONE_ISSUE, "zone": {"x": -1, "y": 10, "width": 20, "height": 20}}, "input.zone", id="left-of"),
    pytest.param({**ZONE_ISSUE, "zone": {"x": 10, "y": -0.5, "width": 20, "height": 20}}, "input.zone", id="above"),
    pytest.param({**ZONE_ISSUE, "zone": {"x": 200, "y": 200, "width": 5, "height": 5}}, "input.zone", id="far-outside"),
    pytest.param({**ZONE_ISSUE, "zone": {"x": 10, "y": 10, "width": 0, "height": 20}}, "input.zone", id="zero-width"),
    pytest.param({**ZONE_ISSUE, "zone": {"x": 10, "y": 10, "width": 20, "height": 0}}, "input.zone", id="zero-height"),
    pytest.param({**ZONE_ISSUE, "zone": {"x": 50, "y": 50, "width": -10, "height": 20}}, "input.zone", id="negative-width"),
    pytest.param({**ZONE_ISSUE, "zone": {"x": 50, "y": 50, "width": 10, "height": -3}}, "input.zone", id="negative-height"),
    pytest.param({**IMAGE_ISSUE, "zone": ZONE}, "input.zone", id="image-with-zone"),
    pytest.param({**IMAGE_ISSUE, "body": ""}, "input.body", id="empty-body"),
    pytest.param({**IMAGE_ISSUE, "body": "  \n\t "}, "input.body", id="blank-body"),
    pytest.param({**ZONE_ISSUE, "body": ""}, "input.body", id="zone-empty-body"),
]


@pytest.mark.parametrize(("issue", "field"), BAD_ISSUES)
async def test_a_bad_issue_is_invalid_input_and_creates_nothing(api, world, issue, field):
    campaign = await launched(api, world)
    existing = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.manager)  # something that must stay as it is
    for filename, token in (("a.jpg", world.labeler), ("b.jpg", world.manager)):
        await refused(api, world, campaign, CREATE_ISSUE, {"assetId": campaign.assets[filename], **issue}, token,
                      "INVALID_INPUT", field)
    assert await asset_issues(api, world, campaign, "a.jpg") == [{"id": existing["id"], "status": "OPEN"}]
    assert await asset_issues(api, world, campaign, "b.jpg") == []


async def test_no_issue_before_launch_nor_after_completion(api, world):
    assets = await add_assets(api, world, ["a.jpg", "b.jpg"])
    ids = {a["filename"]: a["id"] for a in assets}
    # Without a campaign, or with a DRAFT one, the asset has no task: nothing to raise an issue on.
    for token in (world.manager, world.contributor, world.admin):
        assert await top_level_error(api, CREATE_ISSUE, {"i": {"assetId": ids["a.jpg"], **IMAGE_ISSUE}}, token) == "NOT_FOUND"
    campaign_id, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])])
    for token in (world.manager, world.contributor, world.labeler):
        assert await top_level_error(api, CREATE_ISSUE, {"i": {"assetId": ids["a.jpg"], **ZONE_ISSUE}}, token) == "NOT_FOUND"
    assert await IssueRow.all().count() == 0

    # Launched: issues work. Then both tasks finish (a DONE, b SKIPPED with its open issue): COMPLETED.
    assert (await api.data(LAUNCH, {"c": campaign_id}, world.manager))["launchCampaign"]["errors"] == []
    tasks = {t["asset"]["filename"]: t["id"] for t in await all_tasks(api, world, campaign_id)}
    campaign = Campaign(campaign_id, ids, tasks)
    resolved = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.labeler)
    await ok(api, RESOLVE, {"issueId": resolved["id"]}, world.labeler)
    still_open = await create(api, campaign, "b.jpg", ZONE_ISSUE, world.labeler)
    assert (await act(api, SUBMIT, {"taskId": tasks["a.jpg"]}, world.labeler))["task"]["status"] == "DONE"
    assert (await act(api, SKIP, {"taskId": tasks["b.jpg"]}, world.labeler))["task"]["status"] == "SKIPPED"
    assert (await api.data(CAMPAIGN_STATUS, {"c": campaign_id}, world.manager))["campaign"]["status"] == "COMPLETED"

    # The tasks are still visible to MANAGERs and CONTRIBUTORs: the refusal is CAMPAIGN_NOT_ONGOING.
    for token in (world.manager, world.contributor):
        await refused(api, world, campaign, CREATE_ISSUE, {"assetId": ids["a.jpg"], **IMAGE_ISSUE}, token,
                      "CAMPAIGN_NOT_ONGOING")
        await refused(api, world, campaign, CREATE_ISSUE, {"assetId": ids["b.jpg"], **ZONE_ISSUE}, token,
                      "CAMPAIGN_NOT_ONGOING")
        await refused(api, world, campaign, REPLY, {"issueId": still_open["id"], "body": "Too late?"}, token,
                      "CAMPAIGN_NOT_ONGOING")
        await refused(api, world, campaign, RESOLVE, {"issueId": still_open["id"]}, token, "CAMPAIGN_NOT_ONGOING")
        await refused(api, world, campaign, REOPEN, {"issueId": resolved["id"]}, token, "CAMPAIGN_NOT_ONGOING")
    # The LABELER no longer has those tasks: NOT_FOUND.
    await not_found(api, world, campaign, CREATE_ISSUE, {"assetId": ids["a.jpg"], **IMAGE_ISSUE}, world.labeler)
    await not_found(api, world, campaign, REPLY, {"issueId": still_open["id"], "body": "Hm"}, world.labeler)
    # The issues are still readable.
    read = (await api.data(ISSUE, {"id": still_open["id"]}, world.manager))["issue"]
    assert read["status"] == "OPEN" and [c["action"] for c in read["comments"]] == ["OPENED"]


async def test_an_overdue_campaign_still_takes_issues(api, world, frozen_clock):
    due = (frozen_clock.now + timedelta(days=1)).isoformat()
    campaign = await launched(api, world, names=("a.jpg",), dueDate=due)
    frozen_clock.advance(days=2)
    assert (await api.data(CAMPAIGN_STATUS, {"c": campaign.id}, world.manager))["campaign"]["status"] == "OVERDUE"
    raised = await changed(api, world, campaign, CREATE_ISSUE, {"assetId": campaign.assets["a.jpg"], **IMAGE_ISSUE},
                           world.manager, "CREATED", "manager")
    resolved = await changed(api, world, campaign, RESOLVE, {"issueId": raised["id"]}, world.labeler, "RESOLVED", "labeler")
    assert resolved["status"] == "RESOLVED"


# ---------------------------------------------------------------- the thread


async def test_reply_resolve_reopen_thread(api, world, frozen_clock, publications):
    campaign = await launched(api, world)
    opened_at = frozen_clock.now
    issue = await changed(api, world, campaign, CREATE_ISSUE, {"assetId": campaign.assets["a.jpg"], **ZONE_ISSUE},
                          world.manager, "CREATED", "manager")
    iid = issue["id"]

    replied_at = frozen_clock.advance(minutes=1)
    replied = await changed(api, world, campaign, REPLY, {"issueId": iid, "body": "  On it.  "}, world.labeler, "REPLIED", "labeler")
    assert replied["status"] == "OPEN" and replied["resolvedAt"] is None and replied["resolvedBy"] is None

    # A reply needs a body.
    for body in ("", "   ", None):
        variables = {"issueId": iid, **({} if body is None else {"body": body})}
        await refused(api, world, campaign, REPLY, variables, world.labeler, "INVALID_INPUT", "input.body")

    resolved_at = frozen_clock.advance(minutes=1)
    resolved = await changed(api, world, campaign, RESOLVE, {"issueId": iid, "body": ""}, world.contributor,
                             "RESOLVED", "contributor")
    assert resolved["status"] == "RESOLVED" and parse_time(resolved["resolvedAt"]) == resolved_at
    assert resolved["resolvedBy"] == {"username": "contributor1"}

    # Resolving a RESOLVED issue is INVALID_STATE and changes nothing, with or without a body.
    frozen_clock.advance(minutes=1)
    await refused(api, world, campaign, RESOLVE, {"issueId": iid}, world.manager, "INVALID_STATE")
    await refused(api, world, campaign, RESOLVE, {"issueId": iid, "body": "Again"}, world.labeler, "INVALID_STATE")
    assert (await api.data(ISSUE, {"id": iid}, world.manager))["issue"] == resolved

    # Replying to a RESOLVED issue is fine and leaves it RESOLVED.
    frozen_clock.advance(minutes=1)
    after = await changed(api, world, campaign, REPLY, {"issueId": iid, "body": "Thanks"}, world.manager, "REPLIED", "manager")
    assert after["status"] == "RESOLVED" and after["resolvedBy"] == {"username": "contributor1"}

    reopened_at = frozen_clock.advance(minutes=1)
    reopened = await changed(api, world, campaign, REOPEN, {"issueId": iid, "body": "Still missing"}, world.labeler,
                             "REOPENED", "labeler")
    assert reopened["status"] == "OPEN" and reopened["resolvedAt"] is None and reopened["resolvedBy"] is None

    # Re-opening an OPEN issue is INVALID_STATE and changes nothing.
    frozen_clock.advance(minutes=1)
    await refused(api, world, campaign, REOPEN, {"issueId": iid}, world.manager, "INVALID_STATE")
    await refused(api, world, campaign, REOPEN, {"issueId": iid, "body": "Hm"}, world.contributor, "INVALID_STATE")

    # Resolved a second time with no body at all (null), by someone else.
    last_at = frozen_clock.advance(minutes=1)
    final = await changed(api, world, campaign, RESOLVE, {"issueId": iid}, world.labeler, "RESOLVED", "labeler")
    assert parse_time(final["resolvedAt"]) == last_at and final["resolvedBy"] == {"username": "labeler1"}

    # The whole thread, oldest first, with authors and actions; the issue itself is unchanged otherwise.
    thread = (await api.data(ISSUE, {"id": iid}, world.manager))["issue"]
    assert [(c["author"]["username"], c["action"], c["body"], parse_time(c["createdAt"])) for c in thread["comments"]] == [
        ("manager1", "OPENED", "A car is missing here.", opened_at),
        ("labeler1", "REPLIED", "On it.", replied_at),
        ("contributor1", "RESOLVED", "", resolved_at),
        ("manager1", "REPLIED", "Thanks", resolved_at + timedelta(minutes=2)),
        ("labeler1", "REOPENED", "Still missing", reopened_at),
        ("labeler1", "RESOLVED", "", last_at),
    ]
    assert len({c["id"] for c in thread["comments"]}) == 6
    assert (thread["kind"], thread["zone"], thread["author"], thread["step"]) == (
        "ZONE", issue["zone"], {"username": "manager1"}, {"name": "Annotate"})
    assert parse_time(thread["createdAt"]) == opened_at

    # Six successes, six messages, each on the campaign's issues channel and outside any transaction.
    channel = campaign_events(campaign.pk)
    issue_messages = [p for p in publications if p[0] == channel and p[1] is not None]  # not the launch's range
    assert issue_messages == [(channel, kind, False) for kind in
                            ("CREATED", "REPLIED", "RESOLVED", "REPLIED", "REOPENED", "RESOLVED")]


async def test_unknown_issue_ids(api, world):
    campaign = await launched(api, world, names=("a.jpg",))
    for bad in (encode_id("Issue", 987654), campaign.tasks["a.jpg"], "not-an-id"):
        assert await top_level_error(api, ISSUE, {"id": bad}, world.manager) == "NOT_FOUND"
        for query in (REPLY, RESOLVE, REOPEN):
            await not_found(api, world, campaign, query, {"issueId": bad, "body": "x"}, world.manager)
    await not_found(api, world, campaign, CREATE_ISSUE, {"assetId": encode_id("Asset", 987654), **IMAGE_ISSUE}, world.manager)


# ---------------------------------------------------------------- reads


async def test_campaign_issues_filter_and_pages(api, world):
    campaign = await launched(api, world)
    a_zone = await create(api, campaign, "a.jpg", ZONE_ISSUE, world.labeler)
    a_image = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.manager)
    b_image = await create(api, campaign, "b.jpg", IMAGE_ISSUE, world.contributor)
    c_zone = await create(api, campaign, "c.jpg", ZONE_ISSUE, world.manager)
    d_image = await create(api, campaign, "d.jpg", IMAGE_ISSUE, world.manager)
    await ok(api, RESOLVE, {"issueId": a_image["id"]}, world.manager)
    await ok(api, RESOLVE, {"issueId": d_image["id"]}, world.contributor)
    order = [a_zone["id"], a_image["id"], b_image["id"], c_zone["id"], d_image["id"]]

    async def issues(token=None, **variables):
        data = await api.data(CAMPAIGN_ISSUES, {"c": campaign.id, **variables}, token or world.manager)
        return data["campaign"]["issues"]

    everything_ = await issues()
    assert everything_["totalCount"] == 5 and [e["node"]["id"] for e in everything_["edges"]] == order
    assert [(e["node"]["kind"], e["node"]["status"], e["node"]["asset"]["filename"]) for e in everything_["edges"]] == [
        ("ZONE", "OPEN", "a.jpg"), ("IMAGE", "RESOLVED", "a.jpg"), ("IMAGE", "OPEN", "b.jpg"),
        ("ZONE", "OPEN", "c.jpg"), ("IMAGE", "RESOLVED", "d.jpg")]
    assert everything_["pageInfo"]["hasNextPage"] is False
    # The CONTRIBUTOR sees the same list.
    assert await issues(world.contributor) == everything_

    def ids(connection):
        return [e["node"]["id"] for e in connection["edges"]]

    for issue_filter, expected in (
        ({"status": "OPEN"}, [a_zone, b_image, c_zone]),
        ({"status": "RESOLVED"}, [a_image, d_image]),
        ({"kind": "ZONE"}, [a_zone, c_zone]),
        ({"kind": "IMAGE"}, [a_image, b_image, d_image]),
        ({"assetId": campaign.assets["a.jpg"]}, [a_zone, a_image]),
        ({"assetId": campaign.assets["a.jpg"], "status": "RESOLVED"}, [a_image]),
        ({"kind": "IMAGE", "status": "OPEN"}, [b_image]),
        ({"kind": "ZONE", "status": "RESOLVED"}, []),
        ({}, [a_zone, a_image, b_image, c_zone, d_image]),
    ):
        connection = await issues(f=issue_filter)
        assert ids(connection) == [i["id"] for i in expected], issue_filter
        assert connection["totalCount"] == len(expected), issue_filter

    # Pages of two: every issue once, in order; totalCount is the whole count on every page.
    seen, after, pages = [], None, 0
    while True:
        page = await issues(first=2, after=after)
        pages += 1
        assert page["totalCount"] == 5 and len(page["edges"]) <= 2
        seen += ids(page)
        if page["edges"]:
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
            assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == order and pages == 3
    # Filtered pages.
    first = await issues(f={"status": "OPEN"}, first=2)
    assert ids(first) == [a_zone["id"], b_image["id"]] and first["pageInfo"]["hasNextPage"] is True
    rest = await issues(f={"status": "OPEN"}, first=2, after=first["pageInfo"]["endCursor"])
    assert ids(rest) == [c_zone["id"]] and rest["pageInfo"]["hasNextPage"] is False and rest["totalCount"] == 3
    # More than 500 in one page is a BAD_REQUEST.
    assert await top_level_error(api, CAMPAIGN_ISSUES, {"c": campaign.id, "first": 501}, world.manager) == "BAD_REQUEST"


async def test_asset_and_task_issues_and_open_issue_count(api, world):
    campaign = await launched(api, world)
    first = await create(api, campaign, "a.jpg", ZONE_ISSUE, world.labeler)
    second = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.manager)
    third = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.contributor)
    await create(api, campaign, "b.jpg", IMAGE_ISSUE, world.contributor)
    await ok(api, RESOLVE, {"issueId": second["id"]}, world.manager)

    a, c = campaign.tasks["a.jpg"], campaign.tasks["c.jpg"]
    for token in (world.manager, world.contributor, world.labeler):  # the labeler's own task
        every = (await api.data(TASK_ISSUES, {"t": a}, token))["task"]
        assert every["openIssueCount"] == 2
        assert every["issues"] == every["asset"]["issues"] == [
            {"id": first["id"], "status": "OPEN"}, {"id": second["id"], "status": "RESOLVED"},
            {"id": third["id"], "status": "OPEN"}]
        opened = (await api.data(TASK_ISSUES, {"t": a, "s": "OPEN"}, token))["task"]
        assert [i["id"] for i in opened["issues"]] == [i["id"] for i in opened["asset"]["issues"]] == [first["id"], third["id"]]
        resolved = (await api.data(TASK_ISSUES, {"t": a, "s": "RESOLVED"}, token))["task"]
        assert [i["id"] for i in resolved["issues"]] == [i["id"] for i in resolved["asset"]["issues"]] == [second["id"]]
        none = (await api.data(TASK_ISSUES, {"t": c}, token))["task"]
        assert none == {"openIssueCount": 0, "issues": [], "asset": {"issues": []}}
    node = (await api.data(NODE_ISSUES, {"a": campaign.assets["a.jpg"], "s": "OPEN"}, world.manager))["node"]
    assert [i["id"] for i in node["issues"]] == [first["id"], third["id"]]

    # openIssueCount follows resolve and re-open.
    await ok(api, RESOLVE, {"issueId": first["id"]}, world.labeler)
    assert (await api.data(TASK, {"t": a}, world.manager))["task"]["openIssueCount"] == 1
    await ok(api, REOPEN, {"issueId": second["id"]}, world.labeler)
    await ok(api, REOPEN, {"issueId": first["id"]}, world.labeler)
    assert (await api.data(TASK, {"t": a}, world.manager))["task"]["openIssueCount"] == 3
    assert (await api.data(TASK, {"t": campaign.tasks["b.jpg"]}, world.manager))["task"]["openIssueCount"] == 1


async def test_my_issues_are_those_on_the_assets_of_my_active_tasks(api, world):
    campaign = await launched(api, world)
    a_zone = await create(api, campaign, "a.jpg", ZONE_ISSUE, world.manager)
    a_image = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.labeler)
    b_image = await create(api, campaign, "b.jpg", IMAGE_ISSUE, world.manager)
    c_zone = await create(api, campaign, "c.jpg", ZONE_ISSUE, world.contributor)
    d_image = await create(api, campaign, "d.jpg", IMAGE_ISSUE, world.contributor)
    await ok(api, RESOLVE, {"issueId": a_image["id"]}, world.labeler)
    org = world.ids["org"]

    async def mine(token, status=None):
        return [(i["id"], i["status"], i["asset"]["filename"])
                for i in (await api.data(MY_ISSUES, {"o": org, "s": status}, token))["myIssues"]]

    assert await mine(world.labeler) == [(a_zone["id"], "OPEN", "a.jpg"), (a_image["id"], "RESOLVED", "a.jpg"),
                                         (c_zone["id"], "OPEN", "c.jpg")]
    assert await mine(world.labeler, "OPEN") == [(a_zone["id"], "OPEN", "a.jpg"), (c_zone["id"], "OPEN", "c.jpg")]
    assert await mine(world.labeler, "RESOLVED") == [(a_image["id"], "RESOLVED", "a.jpg")]
    assert await mine(world.contributor) == [(b_image["id"], "OPEN", "b.jpg"), (d_image["id"], "OPEN", "d.jpg")]
    assert await mine(world.manager) == []  # nothing at Review yet
    assert await mine(world.member) == []

    # a moves on to Review: its issues leave the labeler and reach the manager.
    assert (await act(api, SUBMIT, {"taskId": campaign.tasks["a.jpg"]}, world.labeler))["errors"] == []
    assert await mine(world.labeler) == [(c_zone["id"], "OPEN", "c.jpg")]
    assert await mine(world.manager) == [(a_zone["id"], "OPEN", "a.jpg"), (a_image["id"], "RESOLVED", "a.jpg")]
    # Sent back to the labeler: theirs again (TO_REWORK is active).
    assert (await act(api, REWORK, {"taskId": campaign.tasks["a.jpg"]}, world.manager))["task"]["status"] == "TO_REWORK"
    assert [i[0] for i in await mine(world.labeler)] == [a_zone["id"], a_image["id"], c_zone["id"]]
    # A skipped task is no longer active: its issues leave myIssues.
    assert (await act(api, SKIP, {"taskId": campaign.tasks["c.jpg"]}, world.labeler))["task"]["status"] == "SKIPPED"
    assert [i[0] for i in await mine(world.labeler)] == [a_zone["id"], a_image["id"]]

    # Another organization's ID: NOT_FOUND; the outsider's own organization: nothing of ours.
    assert await top_level_error(api, MY_ISSUES, {"o": world.ids["other_org"]}, world.labeler) == "NOT_FOUND"
    assert await top_level_error(api, MY_ISSUES, {"o": org}, world.outsider) == "NOT_FOUND"
    assert (await api.data(MY_ISSUES, {"o": world.ids["other_org"]}, world.outsider))["myIssues"] == []


# ---------------------------------------------------------------- visibility


async def test_a_labeler_sees_only_issues_on_their_own_tasks(api, world):
    campaign = await launched(api, world)
    own = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.manager)
    colleague = await create(api, campaign, "b.jpg", ZONE_ISSUE, world.contributor)

    # Their own: readable and discussable.
    assert (await api.data(ISSUE, {"id": own["id"]}, world.labeler))["issue"]["id"] == own["id"]
    await changed(api, world, campaign, REPLY, {"issueId": own["id"], "body": "Fixed"}, world.labeler, "REPLIED", "labeler")

    # A colleague's: NOT_FOUND, exactly like an ID that names nothing.
    missing = encode_id("Issue", 987654)
    for issue_id in (colleague["id"], missing):
        body = await api.post(ISSUE, {"id": issue_id}, world.labeler)
        assert body["data"] == {"issue": None}
        assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
        for query in (REPLY, RESOLVE, REOPEN):
            await not_found(api, world, campaign, query, {"issueId": issue_id, "body": "Mine?"}, world.labeler)
    await not_found(api, world, campaign, CREATE_ISSUE, {"assetId": campaign.assets["b.jpg"], **IMAGE_ISSUE}, world.labeler)
    # The campaign's list is not for LABELERs.
    assert await top_level_error(api, CAMPAIGN_ISSUES, {"c": campaign.id}, world.labeler) == "FORBIDDEN"

    # Once their task moved on, its issues are out of reach too.
    assert (await act(api, SUBMIT, {"taskId": campaign.tasks["a.jpg"]}, world.labeler))["errors"] == []
    assert await top_level_error(api, ISSUE, {"id": own["id"]}, world.labeler) == "NOT_FOUND"
    await not_found(api, world, campaign, RESOLVE, {"issueId": own["id"]}, world.labeler)


@pytest.mark.parametrize("who", ["outsider", "member"])
async def test_strangers_get_not_found(api, world, who):
    campaign = await launched(api, world)
    issue = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.manager)
    resolved = await create(api, campaign, "b.jpg", IMAGE_ISSUE, world.manager)
    await ok(api, RESOLVE, {"issueId": resolved["id"]}, world.manager)
    token = getattr(world, who)
    body = await api.post(ISSUE, {"id": issue["id"]}, token)
    assert body["data"] == {"issue": None} and [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    await not_found(api, world, campaign, CREATE_ISSUE, {"assetId": campaign.assets["a.jpg"], **IMAGE_ISSUE}, token)
    await not_found(api, world, campaign, CREATE_ISSUE, {"assetId": campaign.assets["a.jpg"], **ZONE_ISSUE, "body": ""}, token)
    await not_found(api, world, campaign, REPLY, {"issueId": issue["id"], "body": "Hello"}, token)
    await not_found(api, world, campaign, RESOLVE, {"issueId": issue["id"]}, token)
    await not_found(api, world, campaign, REOPEN, {"issueId": resolved["id"]}, token)
    assert await top_level_error(api, CAMPAIGN_ISSUES, {"c": campaign.id}, token) == "NOT_FOUND"


async def test_without_credentials(api, world):
    campaign = await launched(api, world, names=("a.jpg",))
    issue = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.manager)
    assert await top_level_error(api, ISSUE, {"id": issue["id"]}, None) == "UNAUTHENTICATED"
    assert await top_level_error(api, CREATE_ISSUE, {"i": {"assetId": campaign.assets["a.jpg"], **IMAGE_ISSUE}}, None) == (
        "UNAUTHENTICATED")
    assert await top_level_error(api, REPLY, {"i": {"issueId": issue["id"], "body": "x"}}, None) == "UNAUTHENTICATED"
    assert await IssueCommentRow.all().count() == 1


async def test_a_contributor_discusses_issues_on_any_task_of_the_campaign(api, world):
    campaign = await launched(api, world)
    # a is labeler1's, c too; b is the contributor's own; a at Review is the manager's.
    assert (await act(api, SUBMIT, {"taskId": campaign.tasks["c.jpg"]}, world.labeler))["errors"] == []
    for filename, step in (("a.jpg", "Annotate"), ("b.jpg", "Annotate"), ("c.jpg", "Review")):
        raised = await changed(api, world, campaign, CREATE_ISSUE, {"assetId": campaign.assets[filename], **IMAGE_ISSUE},
                               world.contributor, "CREATED", "contributor")
        assert raised["step"] == {"name": step} and raised["author"] == {"username": "contributor1"}
        await changed(api, world, campaign, REPLY, {"issueId": raised["id"], "body": "More detail"}, world.contributor,
                      "REPLIED", "contributor")
        done = await changed(api, world, campaign, RESOLVE, {"issueId": raised["id"]}, world.contributor, "RESOLVED",
                             "contributor")
        assert done["resolvedBy"] == {"username": "contributor1"}
        again = await changed(api, world, campaign, REOPEN, {"issueId": raised["id"]}, world.contributor, "REOPENED",
                              "contributor")
        assert [c["action"] for c in again["comments"]] == ["OPENED", "REPLIED", "RESOLVED", "REOPENED"]
    # An issue raised by someone else on someone else's task.
    other = await create(api, campaign, "a.jpg", ZONE_ISSUE, world.labeler)
    await changed(api, world, campaign, RESOLVE, {"issueId": other["id"], "body": "Done"}, world.contributor,
                  "RESOLVED", "contributor")


# ---------------------------------------------------------------- with tasks


async def test_open_issues_block_the_last_submit_until_resolved(api, world):
    campaign = await launched(api, world, steps=[("Annotate", "ANNOTATION", ["labeler1"])], names=("a.jpg", "b.jpg"))
    a, b = campaign.tasks["a.jpg"], campaign.tasks["b.jpg"]
    first = await create(api, campaign, "a.jpg", ZONE_ISSUE, world.labeler)
    second = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.manager)
    await create(api, campaign, "b.jpg", IMAGE_ISSUE, world.manager)  # on another asset: irrelevant to a

    blocked = await act(api, SUBMIT, {"taskId": a}, world.labeler)
    assert [(e["code"], e["field"]) for e in blocked["errors"]] == [("OPEN_ISSUES", None)] and blocked["task"] is None
    await ok(api, RESOLVE, {"issueId": first["id"]}, world.labeler)
    still = await act(api, SUBMIT, {"taskId": a}, world.labeler)  # one left open
    assert [e["code"] for e in still["errors"]] == ["OPEN_ISSUES"]
    await ok(api, RESOLVE, {"issueId": second["id"]}, world.contributor)
    await ok(api, REOPEN, {"issueId": first["id"]}, world.manager)  # re-opened: blocks again
    assert [e["code"] for e in (await act(api, SUBMIT, {"taskId": a}, world.labeler))["errors"]] == ["OPEN_ISSUES"]
    task = (await api.data(TASK, {"t": a}, world.manager))["task"]
    assert task["status"] == "IN_PROGRESS" and task["step"] == {"name": "Annotate"} and task["openIssueCount"] == 1

    await ok(api, RESOLVE, {"issueId": first["id"]}, world.labeler)
    done = await ok(api, SUBMIT, {"taskId": a}, world.labeler)
    assert done["task"]["status"] == "DONE"
    # b's issue still blocks b.
    assert [e["code"] for e in (await act(api, SUBMIT, {"taskId": b}, world.labeler))["errors"]] == ["OPEN_ISSUES"]


async def test_a_non_last_submit_ignores_open_issues(api, world):
    campaign = await launched(api, world, names=("a.jpg",))
    await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.manager)
    submitted = await ok(api, SUBMIT, {"taskId": campaign.tasks["a.jpg"]}, world.labeler)
    assert submitted["task"]["step"] == {"name": "Review"} and submitted["task"]["status"] == "IN_PROGRESS"
    assert (await api.data(TASK, {"t": campaign.tasks["a.jpg"]}, world.manager))["task"]["openIssueCount"] == 1


async def test_rework_and_skip_use_an_existing_open_issue(api, world):
    campaign = await launched(api, world)
    a, b, c, d = (campaign.tasks[n] for n in NAMES)
    await ok(api, SUBMIT, {"taskId": a}, world.labeler)
    await ok(api, SUBMIT, {"taskId": c}, world.labeler)

    # A RESOLVED issue is not enough: ISSUE_REQUIRED, and nothing moves.
    resolved = await create(api, campaign, "a.jpg", IMAGE_ISSUE, world.manager)
    await ok(api, RESOLVE, {"issueId": resolved["id"]}, world.manager)
    for query, task, token in ((REWORK, a, world.manager), (SKIP, a, world.manager), (SKIP, b, world.contributor)):
        payload = await act(api, query, {"taskId": task}, token)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("ISSUE_REQUIRED", "input.issue")]
        assert payload["task"] is None
    assert (await api.data(TASK, {"t": a}, world.manager))["task"]["step"] == {"name": "Review"}
    # An open issue on another asset is not enough either.
    await create(api, campaign, "d.jpg", IMAGE_ISSUE, world.contributor)
    assert [e["code"] for e in (await act(api, REWORK, {"taskId": c}, world.manager))["errors"]] == ["ISSUE_REQUIRED"]

    # Re-opened, the existing issue suffices: no new one is raised, nothing is published about issues.
    await ok(api, REOPEN, {"issueId": resolved["id"]}, world.manager)
    before = await IssueRow.all().count()
    async with watching(api, campaign) as watch:
        reworked = await ok(api, REWORK, {"taskId": a}, world.manager)
        assert [m["kind"] for m in await watch.take(1, "tasks")] == ["SENT_TO_REWORK"]
        await watch.silent()
    assert reworked["task"]["status"] == "TO_REWORK" and reworked["task"]["assignee"] == {"username": "labeler1"}
    assert await IssueRow.all().count() == before

    # Skip at an ANNOTATION step with an existing issue raised on its own.
    own = await create(api, campaign, "b.jpg", ZONE_ISSUE, world.contributor)
    async with watching(api, campaign) as watch:
        skipped = await ok(api, SKIP, {"taskId": b}, world.contributor)
        assert [m["kind"] for m in await watch.take(1, "tasks")] == ["SKIPPED"]
        await watch.silent()
    assert skipped["task"]["status"] == "SKIPPED"
    assert await IssueRow.all().count() == before + 1
    assert (await api.data(ISSUE, {"id": own["id"]}, world.manager))["issue"]["status"] == "OPEN"

    # With an issue in the input as well, it raises a second one (and publishes CREATED).
    async with watching(api, campaign) as watch:
        skipped = await ok(api, SKIP, {"taskId": d, "issue": ZONE_ISSUE}, world.contributor)
        assert [m["kind"] for m in await watch.take(1, "tasks")] == ["SKIPPED"]
        assert [m["kind"] for m in await watch.take(1)] == ["CREATED"]
        await watch.silent()
    d_issues = await asset_issues(api, world, campaign, "d.jpg")
    assert [i["status"] for i in d_issues] == ["OPEN", "OPEN"]
