"""What a campaign stream's update is made of (taskUpdates, issueUpdates, myTaskUpdates), and how
a subscriber of a campaign's feed receives it: its roles per batch from the feed's shared read,
then either its group's shared payload (subscriptions/shared_results.py) or, for a LABELER (or
outside this server's websocket handlers), an update built and executed for it alone."""

from __future__ import annotations

from datetime import UTC, datetime

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
from stepwise.subscriptions.feeds import CampaignFeed
from stepwise.subscriptions.shared_results import Delivery, current_delivery
from stepwise.subscriptions.stream import Batch


def event_time(message: dict) -> datetime:
    at = datetime.fromisoformat(message["at"])
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite keeps naive UTC text


async def sees_issue(info: Info, role, message: dict) -> bool:
    """Whether the viewer may see the issue of this message (permissions/visibility.py)."""
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
    if users:
        loaders.by_id(UserModel).prime_many(await feed.user_rows(users, batch))
    return loaders
