"""What the fields of tasks fetch, and a campaign's task pages with the relations they select
(schema/types/tasks.py wraps the rows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stepwise.models.db.accounts import User as UserModel
from stepwise.models.db.datasets import Asset as AssetModel
from stepwise.models.queries.tasks import TaskCriteria, task_count, task_page
from stepwise.models.queries.rows import read_together

if TYPE_CHECKING:
    from stepwise.schema.context import Info


async def task_steps_and_events(info: Info, task) -> tuple[list, list]:
    """The task's campaign's step rows, by position, and the task's event rows, oldest first."""
    steps = await info.context.loaders.steps_by_campaign.load(task.campaign_id)
    events = await info.context.loaders.events_by_task.load(task.id)
    return steps, events


async def task_events(info: Info, task_id: int) -> list:
    return await info.context.loaders.events_by_task.load(task_id)


async def open_issue_count(info: Info, asset_id: int) -> int:
    return await info.context.loaders.open_issue_count_by_asset.load(asset_id)


async def campaign_task_count(campaign_id: int, criteria: TaskCriteria) -> int:
    return await task_count(campaign_id, criteria)


@dataclass
class TaskPage:
    """A page of task rows and, for each relation the query selects on them, the rows of the whole
    page (None for a relation not selected)."""

    rows: list
    has_next: bool
    steps: list | None = None
    users: list | None = None
    assets: list | None = None
    open_issues: dict | None = None


async def campaign_task_page(info: Info, campaign_id: int, criteria: TaskCriteria, first: int, after_id: int,
                             wanted: set[str]) -> TaskPage:
    """Up to `first` tasks after `after_id`, then, once for the page, each relation in `wanted`
    (node field names): one batched query each, called directly (a DataLoader would add a
    future per task). On PostgreSQL, outside a transaction, those reads go at once, each on a
    connection of the pool: the page waits for one round trip instead of up to four."""
    rows, has_next = await task_page(campaign_id, criteria, first, after_id)
    loaders = info.context.loaders
    found = TaskPage(rows, has_next)
    asset_ids = list(dict.fromkeys(r.asset_id for r in rows))
    reads = []
    if "step" in wanted:
        async def steps():
            found.steps = await loaders.steps_by_campaign.load(campaign_id)
        reads.append(steps)
    if "assignee" in wanted:
        async def users():
            ids = sorted({r.assignee_id for r in rows if r.assignee_id is not None})
            found.users = [u for u in await loaders.by_id(UserModel).load_fn(ids) if u]
        reads.append(users)
    if "asset" in wanted:
        async def assets():
            found.assets = [a for a in await loaders.by_id(AssetModel).load_fn(asset_ids) if a]
        reads.append(assets)
    if "openIssueCount" in wanted:
        async def open_issues():
            counts = await loaders.open_issue_count_by_asset.load_fn(asset_ids)
            found.open_issues = dict(zip(asset_ids, counts, strict=True))
        reads.append(open_issues)
    await read_together(reads)
    return found
