"""The Subscription type: subscribe (authorized), then for every event re-check that this viewer
may see it, load what the selection needs with fresh loaders, and yield.

The update streams follow the campaigns' event logs: taskUpdates and issueUpdates through the
campaign's feed shared by the process (subscriptions/feeds.py), myTaskUpdates with its own
position per campaign (subscriptions/stream.py). Registered on the bus first, then the position
is read (or taken from `after:`), so nothing committed in between is missed; each update carries
its `cursor` to resume from after a disconnect.

Over the websocket, once a subscriber of taskUpdates or issueUpdates may see an event and its
role sees every task, its payload comes from the group's one execution for that event
(subscriptions/shared_results.py) and is sent from here; a LABELER's update is yielded, executed
for them alone. A taskUpdates or issueUpdates subscriber in step gets live events from the
feed's send loop instead, with the same checks (updates.in_step, subscriptions/send_loop.py):
its resolver wakes only for what is not that common case.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from stepwise.models.actions.campaigns import find_campaign
from stepwise.models.db.campaigns import Campaign as CampaignModel
from stepwise.models.errors import BadRequest
from stepwise.models.queries.campaigns import campaign_by_id
from stepwise.models.queries.event_log import log_position
from stepwise.permissions import visibility
from stepwise.permissions.graphql import guard
from stepwise.permissions.operations import operation
from stepwise.schema.context import Info
from stepwise.schema.event_cursors import (
    campaign_cursor,
    decode_campaign_cursor,
    organization_cursor,
)
from stepwise.schema.ids import decode_id
from stepwise.schema.types.campaigns import CampaignProgress, progress_from, progress_of
from stepwise.schema.types.notifications import Notification
from stepwise.schema.types.updates import IssueUpdate, TaskUpdate
from stepwise.subscriptions import channels
from stepwise.subscriptions.feeds import follow_feed
from stepwise.subscriptions.notifications import viewer_notifications
from stepwise.subscriptions.my_updates import organization_position, prime, refreshed
from stepwise.subscriptions.org_reads import organization_reads
from stepwise.subscriptions.progress import progress_feed
from stepwise.subscriptions.shared_results import current_delivery
from stepwise.subscriptions.stream import follow_log
from stepwise.subscriptions.updates import (
    batch_loaders,
    issue_update,
    refreshed_from,
    sees_issue,
    shared_delivery,
    in_step,
    task_update,
)

TASK_UPDATES, ISSUE_UPDATES = operation("Subscription.taskUpdates"), operation("Subscription.issueUpdates")
MY_TASK_UPDATES, CAMPAIGN_PROGRESS = operation("Subscription.myTaskUpdates"), operation("Subscription.campaignProgress")
AFTER = ("A `cursor` from an earlier update of this stream (or the matching `eventCursor`): first every later update "
         "that the viewer may see, in commit order, then live updates, with none missed or repeated. "
         "A cursor of another stream is BAD_REQUEST.")


def arg(description: str):
    return strawberry.argument(description=description)


def capped(resolver):
    """A subscription resolver that holds one of the process's slots (subscriptions/caps.py)
    while it runs: past a cap, the subscribe is TOO_MANY_SUBSCRIPTIONS and nothing starts."""

    @functools.wraps(resolver)
    async def holding_a_slot(self, info: Info, *args, **kwargs):
        info.context.access.per_operation()  # its roles are its own, not its socket's siblings'
        caps = info.context.subscription_caps
        if caps is None:  # outside a running app (tests that build a context by hand)
            slot = contextlib.nullcontext()
        else:
            slot = caps.slot(info.context.access.require_viewer().id)
        with slot:
            async with aclosing(resolver(self, info, *args, **kwargs)) as results:
                async for result in results:
                    yield result

    return holding_a_slot


async def _role(info: Info, campaign: CampaignModel):
    return await info.context.access.dataset_role(campaign.dataset_id, campaign.organization_id)


async def _campaign_start(campaign: CampaignModel, after: str | None) -> int:
    """The seq a campaign stream follows from: `after`, or the log's end (read once subscribed)."""
    wanted = None if after is None else decode_campaign_cursor(after, campaign.id)
    current = await log_position(campaign.id)
    if wanted is not None and wanted > current:
        raise BadRequest("`after` is ahead of this campaign's updates: pass a cursor you received.")
    return current if wanted is None else wanted


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
    @capped
    async def task_updates(
        self, info: Info, campaign_id: Annotated[strawberry.ID, arg("The campaign's ID.")],
        after: Annotated[str | None, arg(AFTER)] = None,
    ) -> AsyncGenerator[TaskUpdate, None]:
        campaign = await find_campaign(info.context.access, decode_id(campaign_id, "Campaign"), TASK_UPDATES)
        viewer_id = info.context.access.require_viewer().id
        events = follow_feed(info.context.feeds, campaign.organization_id, campaign.id,
                             lambda: _campaign_start(campaign, after), lambda feed, batch: refreshed_from(info, feed, batch),
                             in_step(info, campaign, current_delivery(), "task"))  # live events while in step
        primed = None  # the batch whose rows the connection's loaders hold, on the per-subscriber path
        async with aclosing(events):
            async for feed, batch, message in events:
                if message["type"] != "task":
                    continue
                role = await _role(info, campaign)
                if role is None:
                    return  # no longer a worker: the subscription ends
                if visibility.hears_task_change(role, viewer_id, message["assignee_id"], message["previous_assignee_id"]):
                    build = functools.partial(task_update, message=message, role=role,
                                              cursor=campaign_cursor(campaign.id, message["seq"]))
                    if (shared := shared_delivery(role, feed)) is not None:
                        await feed.results.deliver(shared, info, batch, message["seq"], build,
                                                  lambda: batch_loaders(feed, batch, "task"))
                        continue
                    if primed is not batch:  # fresh loaders once per batch, as before the sharing
                        # A LABELER is judged on the task's row as it is now (feeds.py, task_rows).
                        current = not visibility.sees_every_task(role)
                        info.context.loaders, primed = await batch_loaders(feed, batch, "task", current=current), batch
                    update = await build(info)
                    if update is not None:
                        yield update

    @strawberry.subscription(
        description="Changes to tasks that were or became the viewer's, across the organization.",
        permission_classes=guard(MY_TASK_UPDATES),
    )
    @capped
    async def my_task_updates(
        self, info: Info,
        organization_id: Annotated[strawberry.ID, arg("The organization's ID; NOT_FOUND unless the viewer is a member.")],
        after: Annotated[str | None, arg(AFTER.replace("`eventCursor`", "`Organization.eventCursor`"))] = None,
    ) -> AsyncGenerator[TaskUpdate, None]:
        org_id = decode_id(organization_id, "Organization")
        access = info.context.access
        await access.check(MY_TASK_UPDATES, org_id, what="Organization")
        viewer_id = access.require_viewer().id
        worker_of = await access.worker_datasets()
        async with organization_reads(info.context.bus, org_id, viewer_id) as shared:
            events = follow_log(info.context.bus, channels.organization_events(org_id),
                                lambda: organization_position(info, shared, org_id, after),
                                lambda batch: refreshed(info, shared, batch))
            primed = None  # the batch whose task rows the operation's loaders hold
            async with aclosing(events):
                async for position, batch, message in events:
                    if message["type"] != "task":
                        continue
                    if await access.org_role(org_id) is None:
                        return
                    if not worker_of <= await access.worker_datasets():
                        return  # taken off a dataset (removeDatasetWorker): the subscription ends
                    if not visibility.was_or_became_theirs(viewer_id, message["assignee_id"], message["previous_assignee_id"]):
                        continue  # not theirs: nothing more is read for them
                    dataset_id = await shared.dataset_of(message["campaign_id"])
                    role = None if dataset_id is None else await access.dataset_role(dataset_id, org_id)
                    if visibility.hears_task_change(role, viewer_id, message["assignee_id"], message["previous_assignee_id"]):
                        if primed is not batch:  # the batch's rows, read once for all it concerns
                            await prime(info, shared, batch, current=not visibility.sees_every_task(role))
                            primed = batch
                        update = await task_update(info, message, role, organization_cursor(org_id, position.positions))
                        if update is not None:
                            yield update

    @strawberry.subscription(
        description="Issue activity in the campaign. "
        "LABELER workers receive only issues on assets of their own active tasks.",
        permission_classes=guard(ISSUE_UPDATES),
    )
    @capped
    async def issue_updates(
        self, info: Info, campaign_id: Annotated[strawberry.ID, arg("The campaign's ID.")],
        after: Annotated[str | None, arg(AFTER)] = None,
    ) -> AsyncGenerator[IssueUpdate, None]:
        campaign = await find_campaign(info.context.access, decode_id(campaign_id, "Campaign"), ISSUE_UPDATES)
        events = follow_feed(info.context.feeds, campaign.organization_id, campaign.id,
                             lambda: _campaign_start(campaign, after), lambda feed, batch: refreshed_from(info, feed, batch),
                             in_step(info, campaign, current_delivery(), "issue"))  # live events while in step
        primed = None  # the batch whose rows the connection's loaders hold, on the per-subscriber path
        async with aclosing(events):
            async for feed, batch, message in events:
                if message["type"] != "issue":
                    continue
                role = await _role(info, campaign)
                if role is None:
                    return
                if (shared := shared_delivery(role, feed)) is None and primed is not batch:
                    info.context.loaders, primed = await batch_loaders(feed, batch, "issue"), batch  # for sees_issue, the update
                if not await sees_issue(info, role, message):
                    continue
                build = functools.partial(issue_update, message=message, cursor=campaign_cursor(campaign.id, message["seq"]))
                if shared is not None:
                    await feed.results.deliver(shared, info, batch, message["seq"], build,
                                              lambda: batch_loaders(feed, batch, "issue"))
                    continue
                update = await build(info)
                if update is not None:
                    yield update

    @strawberry.subscription(
        description="The current progress at once, then again after every change to it. Not for LABELER workers.",
        permission_classes=guard(CAMPAIGN_PROGRESS),
    )
    @capped
    async def campaign_progress(
        self, info: Info, campaign_id: Annotated[strawberry.ID, arg("The campaign's ID.")]
    ) -> AsyncGenerator[CampaignProgress, None]:
        campaign = await find_campaign(info.context.access, decode_id(campaign_id, "Campaign"), CAMPAIGN_PROGRESS)
        access = info.context.access
        async with progress_feed(info.context.bus, campaign.id, access.require_viewer().id) as feed:
            # Listening first, then the snapshot: a change committed in between is pushed after it.
            version, events = feed.version, feed.events
            yield await progress_of(info, await campaign_by_id(campaign.id))
            while True:
                latest, events = await feed.next_event_after(version, events)
                # Checked at every event, count-neutral ones too, against roles read after it.
                if (roles := feed.roles_of(access.require_viewer().id)) is None:
                    access.forget()
                else:
                    access.use_roles(roles)
                if not CAMPAIGN_PROGRESS.allows(await _role(info, campaign)):
                    return
                if latest > version:
                    version, (steps, counts) = feed.version, feed.value  # computed once for all of them
                    if (delivery := current_delivery()) is not None and feed.subscribers > 1:
                        await feed.deliver(delivery, info, version, info.context.feeds.stats)  # and executed once
                        continue
                    yield progress_from(steps, counts)

    @strawberry.subscription(description="The viewer's new notifications, as they are sent.", permission_classes=guard("Subscription.notifications"))
    @capped
    async def notifications(self, info: Info) -> AsyncGenerator[Notification, None]:
        async for notification in viewer_notifications(info):
            yield notification
