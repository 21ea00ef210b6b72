"""Reassigning tasks (TaskAction.REASSIGN: MANAGER only): one task, or many at one step, all or none."""

from __future__ import annotations

from stepwise.models import clock
from stepwise.models.actions.campaigns import find_campaign
from stepwise.models.actions.event_log import append_events
from stepwise.models.actions.task_access import can_see_task
from stepwise.models.actions.rollups import completion_rollup_writes, task_count_key, task_count_write, task_moves
from stepwise.models.actions.task_writes import TaskEventRow, planned_columns, task_event_writes, task_update
from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign, Task
from stepwise.models.errors import DomainError, ErrorCode, NotFound, invalid_input
from stepwise.models.events import TaskChanged
from stepwise.models.queries.workflow import load_workflow
from stepwise.models.workflow import Change, TaskAction, plan_change
from stepwise.permissions.access import Access
from stepwise.permissions.operations import operation

MAX_BULK = 500
# Finding the campaign is the visibility step (like Query.campaign): a hidden task reads NOT_FOUND
# before any role is refused. Then the operation asked for, by which input named the tasks.
SEE_CAMPAIGN = operation("Query.campaign")
REASSIGN = {False: operation("Mutation.reassignTask"), True: operation("Mutation.reassignTasks")}


async def _require_worker(campaign: Campaign, user_id: int) -> None:
    # PostgreSQL: share-lock the worker row, so that a concurrent removeDatasetWorker (which locks
    # it for update before checking for active tasks) either sees this reassign or refuses it.
    lock = " FOR SHARE" if sql.is_postgres(sql.current_connection()) else ""
    if not await sql.fetch(f"SELECT 1 FROM dataset_worker WHERE dataset_id = ? AND user_id = ?{lock}",
                           [campaign.dataset_id, user_id]):
        raise DomainError(ErrorCode.NOT_A_WORKER, "The new assignee must be a worker of the dataset.", "input.assigneeId")


async def _plan(campaign: Campaign, tasks: list[Task], step_id: int | None, task_field) -> list[Change]:
    """Each task's planned REASSIGN (TRANSITIONS), in input order: the first refusal names its task."""
    steps = await load_workflow(campaign.id)
    step_types, index_of = [s.type for s in steps], {s.id: i for i, s in enumerate(steps)}
    changes = []
    for index, task in enumerate(tasks):
        try:
            changes.append(plan_change(task.status, TaskAction.REASSIGN, step_types, index_of.get(task.step_id)))
        except DomainError as refused:
            raise DomainError(refused.code, refused.message, task_field(index)) from None
        if step_id is not None and task.step_id != step_id:
            raise DomainError(ErrorCode.WRONG_STEP, "Every task must be at the filtered step.", task_field(index))
    return changes


async def _reassign_rows(campaign: Campaign, tasks: list[Task], changes: list[Change], user_id: int,
                         actor_id: int) -> list[TaskChanged]:
    """One conditional UPDATE for every task, then their events: any task that moved since read
    refuses the whole call (CONFLICT, rolled back with the rest)."""
    now = clock.now()
    planned = {tuple(planned_columns(change, now, task.status, step_id=task.step_id, assignee_id=user_id).items())
               for task, change in zip(tasks, changes, strict=True)}
    if len(planned) != 1:  # a reassignment keeps each task at its step in its status: same columns for all
        raise RuntimeError(f"one UPDATE cannot write {len(planned)} different changes")
    columns = {"updated_at": now, **dict(planned.pop())}
    changed = await sql.execute(*task_update(columns, [(task.id, task.version) for task in tasks]))
    if changed != len(tasks):
        raise DomainError(ErrorCode.CONFLICT, "A task changed meanwhile; reload and retry.")
    counts = task_count_write(task_moves([
        (task_count_key(campaign.id, task.status, task.step_id, task.assignee_id),
         task_count_key(campaign.id, columns.get("status", task.status), columns.get("step_id", task.step_id),
                        columns.get("assignee_id", task.assignee_id)), 0) for task in tasks]))
    if counts is not None:
        await sql.execute(*counts)
    done = [(task, kind) for task, change in zip(tasks, changes, strict=True) for kind in change.move.events]
    events = [TaskChanged(kind, campaign.organization_id, campaign.id, task.id, actor_id, user_id, task.assignee_id, now)
              for task, kind in done]
    rows = [TaskEventRow(task.id, campaign.id, kind, task.step_id, actor_id, user_id, now) for task, kind in done]
    await sql.execute(*task_event_writes(rows))
    for rollup in completion_rollup_writes(rows):  # none: a reassignment completes no step visit
        await sql.execute(*rollup)
    events = await append_events(campaign.id, events)  # last: the log's seq is a lock on PostgreSQL
    for task in tasks:  # the rows as written (the conditional UPDATE proved nobody changed them since)
        for name, value in columns.items():
            setattr(task, name, value)
        task.version += 1
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
        changes = await _plan(campaign, ordered, step_id, task_field)
        await _require_worker(campaign, user_id)
        events = await _reassign_rows(campaign, ordered, changes, user_id, viewer.id)
    return ordered, events
