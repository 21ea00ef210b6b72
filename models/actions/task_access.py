"""Who may see a task: MANAGERs and CONTRIBUTORs see every task of their campaigns; LABELERs
only their own active tasks. Anything else is NOT_FOUND, exactly like a task that does not exist."""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign, Task
from stepwise.models.queries.rows import TASK_COLUMNS, TaskRow
from stepwise.models.errors import NotFound
from stepwise.models.workflow import ACTIVE
from stepwise.permissions.access import Access
from stepwise.permissions.policy import allows


async def can_see_task(access: Access, task: TaskRow | Task, campaign: Campaign) -> bool:
    role = await access.dataset_role(campaign.dataset_id, campaign.organization_id)
    if allows("task.read", role):
        return True
    viewer = access.viewer
    return (
        allows("task.readOwn", role) and viewer is not None
        and task.assignee_id == viewer.id and task.status in ACTIVE
    )


TASK_SELECT = ", ".join(f"t.{column.strip()}" for column in TASK_COLUMNS.split(","))
TASK_WIDTH = len(TASK_COLUMNS.split(","))


async def find_task(access: Access, task_id: int) -> tuple[TaskRow, Campaign]:
    """The task (a lean row) and its campaign, in one query, if the viewer can see the task."""
    access.require_viewer()
    # Built here, not at import: Tortoise adds the foreign-key columns when it initialises.
    campaign_columns, campaign_select = sql.model_columns(Campaign, "c")
    rows = await sql.fetch(f"SELECT {TASK_SELECT}, {campaign_select} FROM task t JOIN campaign c ON c.id = t.campaign_id"
                           " WHERE t.id = ?", [task_id])
    if rows:
        task = TaskRow(rows[0][:TASK_WIDTH])
        campaign = sql.model_from_row(Campaign, campaign_columns, rows[0][TASK_WIDTH:])
        if await can_see_task(access, task, campaign):
            return task, campaign
    raise NotFound("Task")
