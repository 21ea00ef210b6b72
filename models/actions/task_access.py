"""Looking up a task, an asset or an issue with the viewer's visibility applied: each is one query
for the row and what its rule needs, then the predicate of permissions/visibility.py. Anything
the viewer may not see is NOT_FOUND, exactly like something that does not exist."""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign, Task
from stepwise.models.db.datasets import Asset
from stepwise.models.db.issues import Issue
from stepwise.models.errors import NotFound
from stepwise.models.queries.rows import TASK_COLUMNS, TaskRow
from stepwise.permissions import visibility
from stepwise.permissions.access import Access

TASK_SELECT = ", ".join(f"t.{column.strip()}" for column in TASK_COLUMNS.split(","))
TASK_WIDTH = len(TASK_COLUMNS.split(","))


def _viewer_id(access: Access) -> int | None:
    return access.viewer.id if access.viewer is not None else None


async def can_see_task(access: Access, task: TaskRow | Task, campaign: Campaign) -> bool:
    role = await access.dataset_role(campaign.dataset_id, campaign.organization_id)
    return visibility.can_see_task(role, _viewer_id(access), task.assignee_id, task.status)


async def _task_and_campaign(where: str, params: list, joins: str = "") -> tuple[TaskRow, Campaign] | None:
    # Built here, not at import: Tortoise adds the foreign-key columns when it initialises.
    campaign_columns, campaign_select = sql.model_columns(Campaign, "c")
    rows = await sql.fetch(f"SELECT {TASK_SELECT}, {campaign_select} FROM {joins or 'task t'}"
                           f" JOIN campaign c ON c.id = t.campaign_id WHERE {where}", params)
    if not rows:
        return None
    return TaskRow(rows[0][:TASK_WIDTH]), sql.model_from_row(Campaign, campaign_columns, rows[0][TASK_WIDTH:])


async def find_task(access: Access, task_id: int) -> tuple[TaskRow, Campaign]:
    """The task (a lean row) and its campaign, in one query, if the viewer can see the task."""
    access.require_viewer()
    found = await _task_and_campaign("t.id = ?", [task_id])
    if found is not None and await can_see_task(access, *found):
        return found
    raise NotFound("Task")


async def find_task_of_asset(access: Access, asset_id: int) -> tuple[TaskRow, Campaign]:
    """The asset's task and its campaign, in one query, if the viewer can see the task (issues on
    the asset are raised and read through it); NOT_FOUND("Asset") otherwise."""
    access.require_viewer()
    # Through the version's campaign, so that (campaign_id, asset_id)'s unique index finds the task.
    found = await _task_and_campaign(
        "a.id = ?", [asset_id],
        joins="asset a JOIN campaign ac ON ac.version_id = a.version_id"
              " JOIN task t ON t.campaign_id = ac.id AND t.asset_id = a.id")
    if found is not None and await can_see_task(access, *found):
        return found
    raise NotFound("Asset")


async def find_asset(access: Access, asset_id: int) -> Asset:
    """The asset, if the viewer can see it (MANAGERs and CONTRIBUTORs any asset of their datasets,
    LABELERs those of their own active tasks): one query for the asset, its dataset and its task."""
    viewer = access.require_viewer()
    columns, select = sql.model_columns(Asset, "a")
    rows = await sql.fetch(
        f"SELECT {select}, d.organization_id, d.id, t.assignee_id, t.status FROM asset a"
        " JOIN dataset_version v ON v.id = a.version_id JOIN dataset d ON d.id = v.dataset_id"
        " LEFT JOIN campaign c ON c.version_id = a.version_id"
        " LEFT JOIN task t ON t.campaign_id = c.id AND t.asset_id = a.id WHERE a.id = ?", [asset_id])
    if rows:
        organization_id, dataset_id, assignee_id, status = rows[0][len(columns):]
        role = await access.dataset_role(dataset_id, organization_id)
        if visibility.can_see_asset(role, viewer.id, assignee_id, status):
            return sql.model_from_row(Asset, columns, rows[0][:len(columns)])
    raise NotFound("Asset")


async def find_issue(access: Access, issue_id: int) -> tuple[Issue, Campaign]:
    """The issue and its campaign, if the viewer can see it: one query for the issue, the task of
    its asset and the campaign."""
    viewer = access.require_viewer()
    issue_columns, issue_select = sql.model_columns(Issue, "i")
    campaign_columns, campaign_select = sql.model_columns(Campaign, "c")
    rows = await sql.fetch(
        f"SELECT {issue_select}, t.assignee_id, t.status, {campaign_select} FROM issue i"
        " JOIN task t ON t.campaign_id = i.campaign_id AND t.asset_id = i.asset_id"
        " JOIN campaign c ON c.id = t.campaign_id WHERE i.id = ?", [issue_id])
    if rows:
        width = len(issue_columns)
        assignee_id, status = rows[0][width:width + 2]
        campaign = sql.model_from_row(Campaign, campaign_columns, rows[0][width + 2:])
        role = await access.dataset_role(campaign.dataset_id, campaign.organization_id)
        if visibility.can_see_issue(role, viewer.id, assignee_id, status):
            return sql.model_from_row(Issue, issue_columns, rows[0][:width]), campaign
    raise NotFound("Issue")
