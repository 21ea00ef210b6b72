"""Reassigning tasks (MANAGER only): one task, or many at one step, all or none."""

from __future__ import annotations

from tortoise.expressions import F

from stepwise.models import clock
from stepwise.models.actions.campaigns import find_campaign
from stepwise.models.actions.task_access import can_see_task
from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign, Task, TaskEvent
from stepwise.models.db.datasets import DatasetWorker
from stepwise.models.errors import DomainError, ErrorCode, NotFound, invalid_input
from stepwise.models.events import TaskChanged
from stepwise.models.workflow import ACTIVE, EventKind
from stepwise.permissions.access import Access
from stepwise.permissions.operations import operation

MAX_BULK = 500
# Finding the campaign is the visibility step (like Query.campaign): a hidden task reads NOT_FOUND
# before any role is refused. Then the operation asked for, by which input named the tasks.
SEE_CAMPAIGN = operation("Query.campaign")
REASSIGN = {False: operation("Mutation.reassignTask"), True: operation("Mutation.reassignTasks")}


async def _require_worker(campaign: Campaign, user_id: int) -> None:
    if not await DatasetWorker.filter(dataset_id=campaign.dataset_id, user_id=user_id).exists():
        raise DomainError(ErrorCode.NOT_A_WORKER, "The new assignee must be a worker of the dataset.", "input.assigneeId")


async def _reassign_rows(campaign: Campaign, tasks: list[Task], user_id: int, actor_id: int) -> list[TaskChanged]:
    now = clock.now()
    events = []
    for task in tasks:
        changed = await Task.filter(id=task.id, version=task.version).update(
            assignee_id=user_id, updated_at=now, started_at=None, version=F("version") + 1
        )
        if not changed:
            raise DomainError(ErrorCode.CONFLICT, "A task changed meanwhile; reload and retry.")
        events.append(TaskChanged(EventKind.REASSIGNED, campaign.organization_id, campaign.id, task.id, actor_id,
                                  user_id, task.assignee_id, now))
    await TaskEvent.bulk_create([
        TaskEvent(task_id=e.task_id, campaign_id=campaign.id, kind=EventKind.REASSIGNED,
                  step_id=t.step_id, actor_id=actor_id, assignee_id=user_id, at=now)
        for e, t in zip(events, tasks, strict=True)
    ])
    return events


async def reassign_tasks(
    access: Access, task_ids: list[int], user_id: int, step_id: int | None, *, bulk: bool = True
) -> tuple[list[Task], list[TaskChanged]]:
    """Give active tasks to another worker. With `step_id`, every task must be at that step.
    `bulk` says which input named the tasks (`taskIds` or a single `taskId`), for error fields."""

    def task_field(index: int) -> str:
        return f"input.taskIds.{index}" if bulk else "input.taskId"

    viewer = access.require_viewer()
    if not task_ids:
        raise invalid_input("input.taskIds", "Give at least one task.")
    if len(task_ids) > MAX_BULK or len(set(task_ids)) != len(task_ids):
        raise invalid_input("input.taskIds", f"1 to {MAX_BULK} distinct tasks.")
    async with sql.transaction():
        tasks = {t.id: t for t in await Task.filter(id__in=task_ids).select_for_update()}
        campaign_ids = {t.campaign_id for t in tasks.values()}
        if len(tasks) != len(task_ids) or len(campaign_ids) != 1:
            raise NotFound("Task")
        campaign = await find_campaign(access, campaign_ids.pop(), SEE_CAMPAIGN, what="Task")
        for task in tasks.values():
            if not await can_see_task(access, task, campaign):
                raise NotFound("Task")  # a task the viewer cannot see reads like a missing one
        await access.check(REASSIGN[bulk], campaign.organization_id, campaign.dataset_id, what="Task")
        ordered = [tasks[i] for i in task_ids]
        for index, task in enumerate(ordered):
            if task.status not in ACTIVE:
                raise DomainError(ErrorCode.INVALID_STATE, f"The task is {task.status}.", task_field(index))
            if step_id is not None and task.step_id != step_id:
                raise DomainError(ErrorCode.WRONG_STEP, "Every task must be at the filtered step.", task_field(index))
        await _require_worker(campaign, user_id)
        events = await _reassign_rows(campaign, ordered, user_id, viewer.id)
        refreshed = {t.id: t for t in await Task.filter(id__in=task_ids)}
    return [refreshed[i] for i in task_ids], events
