"""Who may see a task: MANAGERs and CONTRIBUTORs see every task of their campaigns; LABELERs
only their own active tasks. Anything else is NOT_FOUND, exactly like a task that does not exist."""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign, Task
from stepwise.models.queries.rows import TaskRow, task_rows
from stepwise.models.errors import NotFound
from stepwise.models.workflow import ACTIVE
from stepwise.permissions.access import Access
from stepwise.permissions.policy import allows


async def can_see_task(access: Access, task: Task, campaign: Campaign) -> bool:
    role = await access.dataset_role(campaign.dataset_id, campaign.organization_id)
    if allows("task.read", role):
        return True
    viewer = access.viewer
    return (
        allows("task.readOwn", role) and viewer is not None
        and task.assignee_id == viewer.id and task.status in ACTIVE
    )


async def find_task(access: Access, task_id: int, *, lock: bool = False) -> tuple[Task | TaskRow, Campaign]:
    """The task and its campaign if the viewer can see the task. `lock`: a lean row locked FOR
    UPDATE (PostgreSQL) inside the caller's transaction, for a transition."""
    access.require_viewer()
    if lock:
        rows = await task_rows("id = ?", [task_id], sql.for_update())
        task = rows[0] if rows else None
    else:
        task = await Task.get_or_none(id=task_id)
    campaign = await Campaign.get_or_none(id=task.campaign_id) if task else None
    if task is None or campaign is None or not await can_see_task(access, task, campaign):
        raise NotFound("Task")
    return task, campaign
