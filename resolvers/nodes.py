"""Fetching objects by global ID with the viewer's visibility applied: hidden looks like missing.

A type with a root lookup is guarded like it (a Step like Query.campaign, its campaign); Label and
Asset have only this path (policy.NODE_ONLY_READS; an asset's read is a row rule of
permissions/visibility.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from stepwise.models.db import accounts as accounts_db
from stepwise.models.db import campaigns as campaigns_db
from stepwise.models.db import datasets as datasets_db
from stepwise.models.errors import NotFound
from stepwise.models.actions.task_access import find_asset, find_issue, find_task
from stepwise.models.queries.notifications import notification_of_user
from stepwise.permissions.operations import Operation, node_read, operation
from stepwise.resolvers.scopes import organization_and_dataset_of
from stepwise.schema.context import Info
from stepwise.schema.ids import parse_id
from stepwise.schema.types.accounts import Organization, User
from stepwise.schema.types.assets import Asset
from stepwise.schema.types.campaigns import Campaign, Step
from stepwise.schema.types.datasets import Dataset, DatasetVersion, Label
from stepwise.schema.types.issues import Issue
from stepwise.schema.types.notifications import Notification
from stepwise.schema.types.tasks import Task

READ_CAMPAIGN = operation("Query.campaign")


async def fetch_visible(info: Info, model: type, pk: int, operation: Operation, what: str):
    """The row if the viewer may read it through `operation`; NOT_FOUND when missing or invisible,
    FORBIDDEN by role."""
    row = await info.context.loaders.get(model, pk)
    if row is None:
        raise NotFound(what)
    org_id, dataset_id = await organization_and_dataset_of(info.context.loaders, row)
    await info.context.access.check(operation, org_id, dataset_id, what=what)
    return row


async def fetch_user(info: Info, pk: int) -> User:
    """A user is visible to themself and to people sharing an organization with them."""
    access = info.context.access
    row = await info.context.loaders.get(accounts_db.User, pk)
    if row is not None and row.id != access.require_viewer().id:
        their_orgs = {m.organization_id for m in await info.context.loaders.memberships_by_user.load(pk)}
        if not their_orgs & set(await access.org_roles()):
            row = None
    if row is None:
        raise NotFound("User")
    return User.from_row(row)


async def fetch_task(info: Info, pk: int):
    task, _ = await find_task(info.context.access, pk)
    return Task.from_row(task, info)


async def fetch_step(info: Info, pk: int):
    step = await info.context.loaders.get(campaigns_db.Step, pk)
    if step is None:
        raise NotFound("Step")
    campaign = await info.context.loaders.get(campaigns_db.Campaign, step.campaign_id)
    await info.context.access.check(READ_CAMPAIGN, campaign.organization_id, campaign.dataset_id, what="Step")
    return Step.from_row(step)


async def fetch_asset(info: Info, pk: int) -> Asset:
    """MANAGERs and CONTRIBUTORs read any asset of their datasets (node_read("Asset")), LABELERs
    those of their own active tasks: permissions/visibility.py."""
    return Asset.from_row(await find_asset(info.context.access, pk))


async def fetch_issue(info: Info, pk: int) -> Issue:
    row, _ = await find_issue(info.context.access, pk)
    return Issue.from_row(row)


async def fetch_notification(info: Info, pk: int) -> Notification:
    """A notification is visible to the user it was sent to alone."""
    row = await notification_of_user(pk, info.context.access.require_viewer().id)
    if row is None:
        raise NotFound("Notification")
    return Notification.from_row(row, info)


def _typed(model, operation: Operation, wrap) -> Callable[[Info, int], Awaitable]:
    async def fetch(info: Info, pk: int):
        return wrap(await fetch_visible(info, model, pk, operation, model.__name__))

    return fetch


NODE_FETCHERS: dict[str, Callable[[Info, int], Awaitable]] = {
    "User": fetch_user,
    "Organization": _typed(accounts_db.Organization, operation("Query.organization"), Organization.from_row),
    "Dataset": _typed(datasets_db.Dataset, operation("Query.dataset"), Dataset.from_row),
    "DatasetVersion": _typed(datasets_db.DatasetVersion, operation("Query.datasetVersion"), DatasetVersion.from_row),
    "Label": _typed(datasets_db.Label, node_read("Label"), Label.from_row),
    "Asset": fetch_asset,
    "Campaign": _typed(campaigns_db.Campaign, READ_CAMPAIGN, Campaign.from_row),
    "Step": fetch_step,
    "Task": fetch_task,
    "Issue": fetch_issue,
    "Notification": fetch_notification,
}


async def resolve_node(info: Info, global_id: str):
    """Any object by global ID; types without a fetcher have no instance the viewer can see."""
    parsed = parse_id(global_id)
    fetch = NODE_FETCHERS.get(parsed[0]) if parsed else None
    if fetch is None:
        raise NotFound("object")
    return await fetch(info, parsed[1])
