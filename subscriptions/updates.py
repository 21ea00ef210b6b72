"""What a campaign stream's update is made of (taskUpdates, issueUpdates, myTaskUpdates), and how
a subscriber of a campaign's feed receives it: its roles per batch from the feed's shared read,
then either its group's shared payload (subscriptions/shared_results.py) or, for a LABELER (or
outside this server's websocket handlers), an update built and executed for it alone."""

from __future__ import annotations

import weakref
from datetime import UTC, datetime

from strawberry.dataloader import DataLoader

from stepwise.models.db.accounts import User as UserModel
from stepwise.models.db.campaigns import Task as TaskModel
from stepwise.models.db.issues import Issue as IssueModel
from stepwise.permissions import visibility
from stepwise.resolvers.loaders import Loaders
from stepwise.schema.context import Info
from stepwise.schema.types.accounts import load_user
from stepwise.schema.types.enums import EventKind, IssueUpdateKindType
from stepwise.schema.types.issues import Issue
from stepwise.schema.types.tasks import Task
from stepwise.schema.types.updates import IssueUpdate, TaskUpdate
from stepwise.models.queries.rows import in_list, task_rows
from stepwise.subscriptions.feeds import CampaignFeed, SharedReads
from stepwise.schema.event_cursors import campaign_cursor
from stepwise.subscriptions.send_loop import HAND_BACK, HANDLED, InStep, send_until_it_waits
from stepwise.subscriptions.shared_results import Delivery, current_delivery
from stepwise.subscriptions.stream import Batch


def event_time(message: dict) -> datetime:
    at = datetime.fromisoformat(message["at"])
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite keeps naive UTC text


async def sees_issue(info: Info, role, message: dict) -> bool:
    """Whether the viewer may see the issue of this message (permissions/visibility.py). The
    asset's task comes from loaders of batch_loaders: the feed's shared read (one per event for
    every LABELER subscriber of the campaign)."""
    if visibility.sees_every_task(role):
        return True  # no need to load the asset's task
    task = await info.context.loaders.task_by_asset.load(message["asset_id"])
    viewer_id = info.context.access.require_viewer().id
    return task is not None and visibility.can_see_issue(role, viewer_id, task.assignee_id, task.status)


async def task_update(info: Info, message: dict, role, cursor: str) -> TaskUpdate | None:
    """The update as this viewer may see it: a task they may no longer see comes sealed."""
    task = await info.context.loaders.get(TaskModel, message["task_id"])
    if task is None:
        return None
    viewer_id = info.context.access.require_viewer().id
    visible = visibility.can_see_task(role, viewer_id, task.assignee_id, task.status)
    return TaskUpdate(
        kind=EventKind(message["kind"]),
        task=Task.as_seen(task, info, visible),
        actor=await load_user(info, message["actor_id"]), at=event_time(message), cursor=cursor,
    )


def shared_delivery(role, feed: CampaignFeed) -> Delivery | None:
    """How this subscriber receives its group's shared payloads: only over this server's
    websocket handlers, for a role that sees every task (whose view of an event does not depend
    on who they are), and when the feed has another subscriber to share with (a lone reader
    catching up on a launch runs faster on strawberry's own path); None: its updates are
    executed for it alone."""
    delivery = current_delivery()
    if delivery is None or feed.users < 2 or not visibility.sees_every_task(role):
        return None
    return delivery


def in_step(info: Info, campaign, delivery: Delivery | None, kind: str) -> InStep | None:
    """How a campaign feed's send loop gives this subscriber (taskUpdates: `kind` "task",
    issueUpdates: "issue") a live event while it is in step (subscriptions/send_loop.py): what
    its resolver would do (fields.py), with the roles read ahead of the event; anything else is
    handed back to the resolver. None off this server's websocket handlers."""
    if delivery is None:
        return None
    viewer = info.context.access.require_viewer()

    async def deliver(feed: CampaignFeed, message: dict, access):
        if message["type"] != kind:
            return HANDLED
        role = await access.dataset_role(campaign.dataset_id, campaign.organization_id)
        if role is None:
            return HAND_BACK  # no longer a worker: its resolver ends the subscription
        if kind == "task" and not visibility.hears_task_change(
                role, viewer.id, message["assignee_id"], message["previous_assignee_id"]):
            return HANDLED
        if feed.users < 2 or not visibility.sees_every_task(role):
            return HAND_BACK  # executed for this member alone (shared_delivery), by its resolver
        batch, seq = [message], message["seq"]
        if kind == "task":  # built by the group's first member only
            build = lambda root_info: task_update(root_info, message, role, campaign_cursor(campaign.id, seq))  # noqa: E731
        else:  # who sees every task sees every issue (sees_issue)
            build = lambda root_info: issue_update(root_info, message, campaign_cursor(campaign.id, seq))  # noqa: E731
        payload = await feed.results.payload(delivery, info.context, access, batch, seq, build,
                                             lambda: batch_loaders(feed, batch, kind))
        if payload is None:
            return HAND_BACK
        return send_until_it_waits(delivery.send(payload, feed.results.stats)) or HANDLED

    return InStep(viewer, deliver)


async def issue_update(info: Info, message: dict, cursor: str) -> IssueUpdate | None:
    issue = await info.context.loaders.get(IssueModel, message["issue_id"])  # the feed's shared read
    if issue is None:
        return None
    return IssueUpdate(
        kind=IssueUpdateKindType(message["kind"]), issue=Issue.from_row(issue),
        actor=await load_user(info, message["actor_id"]), at=event_time(message), cursor=cursor,
    )


async def refreshed_from(info: Info, feed: CampaignFeed, batch: Batch) -> None:
    """Before a batch of the campaign's feed: the viewer's roles as read once for all of their
    subscriptions, after the batch's events committed (authorization is checked against them)."""
    info.context.access.use_roles(await feed.roles_of(info.context.access.require_viewer().id, batch))


async def batch_loaders(feed: CampaignFeed, batch: Batch, kind: str, *, current: bool = False) -> Loaders:
    """Fresh loaders primed with what the batch's updates of `kind` show, read once for all of the
    campaign's subscribers instead of once each: the rows of its tasks (taskUpdates; `current`:
    as they are now, for a LABELER, feeds.py) or issues (issueUpdates), the actors and assignees.
    Made only where an update is built (a group's execution, or a subscriber's own)."""
    loaders = Loaders()
    users = {m["actor_id"] for m in batch if m["type"] == kind and m.get("actor_id") is not None}
    if kind == "task":
        tasks = await feed.task_rows(batch, current=current)
        if tasks:
            loaders.by_id(TaskModel).prime_many(tasks)
        users |= {t.assignee_id for t in tasks.values() if t.assignee_id is not None}
    else:
        issues = await feed.issue_rows(batch)
        if issues:
            loaders.by_id(IssueModel).prime_many(issues)
        loaders.__dict__["task_by_asset"] = _shared_task_by_asset(feed, batch)  # read only if asked
    if users:
        loaders.by_id(UserModel).prime_many(await feed.user_rows(users, batch))
    return loaders


# The assets' tasks a LABELER's issueUpdates are judged on (sees_issue), read once per event for
# all of a campaign's subscribers, kept with the feed (gone with it).
_ASSET_TASKS: weakref.WeakKeyDictionary[CampaignFeed, SharedReads] = weakref.WeakKeyDictionary()


def _shared_task_by_asset(feed: CampaignFeed, batch: Batch) -> DataLoader:
    """A task_by_asset loader reading through the feed's shared read of the campaign's tasks by
    asset. The row must be as it is now (a LABELER's view hangs on its assignee and status): read
    after every event the feed knows of, as the feed's current task rows are."""
    reads = _ASSET_TASKS.setdefault(feed, SharedReads())
    mark = max(feed.known, batch[-1]["seq"])  # every event up to there has committed

    async def load(asset_ids: list[int]) -> list:
        found = await reads.get(dict.fromkeys(asset_ids, mark), mark, lambda ids: _tasks_by_asset(feed.campaign_id, ids))
        return [found.get(asset_id) for asset_id in asset_ids]

    return DataLoader(load_fn=load)


async def _tasks_by_asset(campaign_id: int, asset_ids: list[int]) -> dict[int, object]:
    rows = await task_rows(f"campaign_id = ? AND asset_id IN ({in_list(asset_ids)})", [campaign_id, *asset_ids])
    return {row.asset_id: row for row in rows}
