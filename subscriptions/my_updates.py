"""myTaskUpdates' per-batch steps (subscriptions/fields.py runs the loop): where the stream starts
and which campaigns it follows, the roles it is checked against, the rows its updates show, all
read through the organization's shared reads (subscriptions/org_reads.py)."""

from __future__ import annotations

from stepwise.models.db.accounts import User as UserModel
from stepwise.models.db.campaigns import Task as TaskModel
from stepwise.models.errors import BadRequest
from stepwise.models.queries.event_log import worker_positions
from stepwise.resolvers.loaders import Loaders
from stepwise.schema.context import Info
from stepwise.schema.event_cursors import decode_organization_cursor
from stepwise.subscriptions.org_reads import OrganizationReads
from stepwise.subscriptions.stream import Batch, LogPosition


async def refreshed(info: Info, shared: OrganizationReads, batch: Batch) -> None:
    """Before a batch of events (one live event, or a page of the log): the viewer's roles as read
    after the batch committed, once for every subscriber of the organization (authorization is
    checked per event against them), and fresh loaders for the operation."""
    info.context.access.use_roles(await shared.roles_of(info.context.access.require_viewer().id, batch))
    info.context.loaders = Loaders()


async def prime(info: Info, shared: OrganizationReads, batch: Batch, *, current: bool) -> None:
    """The operation's loaders primed with what the batch's updates show (its tasks' rows, the
    actors and assignees), as read once for every subscriber of the organization."""
    tasks = await shared.task_rows(batch, current=current)
    info.context.loaders.by_id(TaskModel).prime_many(tasks)
    users = {m["actor_id"] for m in batch if m["type"] == "task" and m.get("actor_id") is not None}
    users |= {t.assignee_id for t in tasks.values() if t.assignee_id is not None}
    if users:
        info.context.loaders.by_id(UserModel).prime_many(await shared.user_rows(users, batch))


async def organization_position(info: Info, shared: OrganizationReads, organization_id: int,
                                 after: str | None) -> LogPosition:
    """myTaskUpdates follows only the campaigns where the viewer can have tasks (worker of their
    dataset): after a GAP it reads those logs, not the whole organization's. A cursor naming a
    campaign outside them (the viewer left its dataset since) resumes the others."""
    viewer_id = info.context.access.require_viewer().id
    current = await worker_positions(organization_id, viewer_id)
    if after is None:
        positions, behind = current, False
    else:
        wanted = decode_organization_cursor(after, organization_id)
        if any(c in current and s > current[c] for c, s in wanted.items()):
            raise BadRequest("`after` is not a position of this organization's updates: pass a cursor you received.")
        positions, behind = {c: wanted.get(c, 0) for c in current}, True

    async def follows(message: dict) -> bool:
        # Only a launch (a range) or a change to one of the viewer's tasks can start their part
        # in a campaign: anything else is not theirs to hear, with no read.
        if message["type"] != "range" and viewer_id not in (message.get("assignee_id"), message.get("previous_assignee_id")):
            return False
        dataset_id = await shared.dataset_of(message["campaign_id"])
        # Their roles as they are now: they may have joined the dataset since they were read.
        info.context.access.use_roles(await shared.roles_of(viewer_id, [message]))
        return dataset_id in await info.context.access.worker_datasets()

    return LogPosition(organization_id, positions, behind=behind, read_page=shared.page,
                       known_campaigns=lambda: worker_positions(organization_id, viewer_id), follows=follows)
