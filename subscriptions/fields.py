"""The Subscription type: subscribe (authorized), then for every event re-check that this viewer
may see it, load what the selection needs with fresh loaders, and yield.

The subscription is registered on the bus before any snapshot is read, so nothing committed in
between is missed. Nothing is replayed after a disconnect: clients refetch, then resubscribe.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

import strawberry

from stepwise.models.actions.campaigns import find_campaign
from stepwise.models.db.campaigns import Campaign as CampaignModel
from stepwise.models.errors import NotAvailableYet
from stepwise.models.queries.campaigns import campaign_by_id
from stepwise.models.queries.issues import issue_by_id
from stepwise.models.queries.tasks import task_by_id
from stepwise.models.workflow import COUNT_NEUTRAL_EVENTS
from stepwise.permissions import visibility
from stepwise.permissions.graphql import guard
from stepwise.permissions.operations import operation
from stepwise.resolvers.loaders import Loaders
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.types.accounts import load_user
from stepwise.schema.types.campaigns import CampaignProgress, progress_of
from stepwise.schema.types.enums import EventKind, IssueUpdateKindType
from stepwise.schema.types.issues import Issue
from stepwise.schema.types.notifications import Notification
from stepwise.schema.types.tasks import Task
from stepwise.schema.types.updates import IssueUpdate, TaskUpdate
from stepwise.subscriptions import channels
from stepwise.subscriptions.bus import GAP, Gap, SlowConsumer

TASK_UPDATES, ISSUE_UPDATES = operation("Subscription.taskUpdates"), operation("Subscription.issueUpdates")
MY_TASK_UPDATES, CAMPAIGN_PROGRESS = operation("Subscription.myTaskUpdates"), operation("Subscription.campaignProgress")


def arg(description: str):
    return strawberry.argument(description=description)


@asynccontextmanager
async def _listening(info: Info, channel: str) -> AsyncIterator[AsyncIterator[dict]]:
    """Registered on the channel on entry. Before each message the viewer's roles are reloaded
    (authorization is checked per event) and the operation gets fresh loaders."""
    async with info.context.bus.subscribe(channel) as messages:
        yield _refreshed(info, messages)


async def _refreshed(info: Info, messages: AsyncIterator[dict | Gap]) -> AsyncIterator[dict]:
    async for message in messages:
        if message is GAP:  # events were lost on the way: the client must refetch
            raise SlowConsumer()
        info.context.access.forget()
        info.context.loaders = Loaders()
        yield message


async def _role(info: Info, campaign: CampaignModel):
    return await info.context.access.dataset_role(campaign.dataset_id, campaign.organization_id)


async def _sees_issue(info: Info, role, message: dict) -> bool:
    """Whether the viewer may see the issue of this message (permissions/visibility.py)."""
    if visibility.sees_every_task(role):
        return True  # no need to load the asset's task
    task = await info.context.loaders.task_by_asset.load(message["asset_id"])
    viewer_id = info.context.access.require_viewer().id
    return task is not None and visibility.can_see_issue(role, viewer_id, task.assignee_id, task.status)


async def _task_update(info: Info, message: dict, role) -> TaskUpdate | None:
    """The update as this viewer may see it: a task they may no longer see comes sealed."""
    task = await task_by_id(message["task_id"])
    if task is None:
        return None
    viewer_id = info.context.access.require_viewer().id
    visible = visibility.can_see_task(role, viewer_id, task.assignee_id, task.status)
    return TaskUpdate(
        kind=EventKind(message["kind"]),
        task=Task.as_seen(task, info, visible),
        actor=await load_user(info, message["actor_id"]), at=datetime.fromisoformat(message["at"]),
    )


@strawberry.type(
    name="Subscription",
    description="Realtime events over the websocket at /graphql; authorization is checked again for every event.",
)
class Subscription:
    @strawberry.subscription(
        description="Every change to a task of the campaign. "
        "LABELER workers receive only changes to tasks that were or became theirs.",
        permission_classes=guard(TASK_UPDATES),
    )
    async def task_updates(
        self, info: Info, campaign_id: Annotated[strawberry.ID, arg("The campaign's ID.")]
    ) -> AsyncGenerator[TaskUpdate, None]:
        campaign = await find_campaign(info.context.access, decode_id(campaign_id, "Campaign"), TASK_UPDATES)
        viewer_id = info.context.access.require_viewer().id
        async with _listening(info, channels.campaign_tasks(campaign.id)) as messages:
            async for message in messages:
                role = await _role(info, campaign)
                if role is None:
                    return  # no longer a worker: the subscription ends
                if visibility.hears_task_change(role, viewer_id, message["assignee_id"], message["previous_assignee_id"]):
                    update = await _task_update(info, message, role)
                    if update is not None:
                        yield update

    @strawberry.subscription(
        description="Changes to tasks that were or became the viewer's, across the organization.",
        permission_classes=guard(MY_TASK_UPDATES),
    )
    async def my_task_updates(
        self, info: Info,
        organization_id: Annotated[strawberry.ID, arg("The organization's ID; NOT_FOUND unless the viewer is a member.")],
    ) -> AsyncGenerator[TaskUpdate, None]:
        org_id = decode_id(organization_id, "Organization")
        await info.context.access.check(MY_TASK_UPDATES, org_id, what="Organization")
        viewer_id = info.context.access.require_viewer().id
        async with _listening(info, channels.organization_tasks(org_id)) as messages:
            async for message in messages:
                if await info.context.access.org_role(org_id) is None:
                    return
                if not visibility.was_or_became_theirs(viewer_id, message["assignee_id"], message["previous_assignee_id"]):
                    continue
                campaign = await info.context.loaders.get(CampaignModel, message["campaign_id"])
                role = await _role(info, campaign) if campaign is not None else None
                if visibility.hears_task_change(role, viewer_id, message["assignee_id"], message["previous_assignee_id"]):
                    update = await _task_update(info, message, role)
                    if update is not None:
                        yield update

    @strawberry.subscription(
        description="Issue activity in the campaign. "
        "LABELER workers receive only issues on assets of their own active tasks.",
        permission_classes=guard(ISSUE_UPDATES),
    )
    async def issue_updates(
        self, info: Info, campaign_id: Annotated[strawberry.ID, arg("The campaign's ID.")]
    ) -> AsyncGenerator[IssueUpdate, None]:
        campaign = await find_campaign(info.context.access, decode_id(campaign_id, "Campaign"), ISSUE_UPDATES)
        async with _listening(info, channels.campaign_issues(campaign.id)) as messages:
            async for message in messages:
                role = await _role(info, campaign)
                if role is None:
                    return
                if not await _sees_issue(info, role, message):
                    continue
                issue = await issue_by_id(message["issue_id"])
                if issue is not None:
                    yield IssueUpdate(
                        kind=IssueUpdateKindType(message["kind"]), issue=Issue.from_row(issue),
                        actor=await load_user(info, message["actor_id"]), at=datetime.fromisoformat(message["at"]),
                    )

    @strawberry.subscription(
        description="The current progress at once, then again after every change to it. Not for LABELER workers.",
        permission_classes=guard(CAMPAIGN_PROGRESS),
    )
    async def campaign_progress(
        self, info: Info, campaign_id: Annotated[strawberry.ID, arg("The campaign's ID.")]
    ) -> AsyncGenerator[CampaignProgress, None]:
        campaign = await find_campaign(info.context.access, decode_id(campaign_id, "Campaign"), CAMPAIGN_PROGRESS)
        async with _listening(info, channels.campaign_tasks(campaign.id)) as messages:
            # Subscribed first, then the snapshot: a change committed in between is not lost.
            yield await progress_of(info, await campaign_by_id(campaign.id))
            async for message in messages:
                if message["kind"] in COUNT_NEUTRAL_EVENTS:  # started, saved, reassigned: same counts
                    continue
                if not CAMPAIGN_PROGRESS.allows(await _role(info, campaign)):
                    return
                yield await progress_of(info, await campaign_by_id(campaign.id))

    @strawberry.subscription(description="The viewer's new notifications, as they are sent.", permission_classes=guard("Subscription.notifications"))
    async def notifications(self) -> AsyncGenerator[Notification, None]:
        if True:
            raise NotAvailableYet("notifications")
        yield
