"""Read side of tasks: keyset pages with filters, counts, the viewer's own tasks, progress."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign, Step, Task
from stepwise.models.queries.rows import TaskRow, in_list, task_rows
from stepwise.models.workflow import ACTIVE, TaskStatus, progress_percent, remaining_submissions


@dataclass(frozen=True)
class TaskFilter:
    statuses: tuple[TaskStatus, ...] | None = None
    step_id: int | None = None
    assignee_id: int | None = None


def _where(campaign_id: int, task_filter: TaskFilter) -> tuple[str, list]:
    clauses, params = ["campaign_id = ?"], [campaign_id]
    if task_filter.statuses:
        clauses.append(f"status IN ({in_list(list(task_filter.statuses))})")
        params += [s.value for s in task_filter.statuses]
    if task_filter.step_id is not None:
        clauses.append("step_id = ?")
        params.append(task_filter.step_id)
    if task_filter.assignee_id is not None:
        clauses.append("assignee_id = ?")
        params.append(task_filter.assignee_id)
    return " AND ".join(clauses), params


async def task_page(campaign_id: int, task_filter: TaskFilter, first: int, after_id: int) -> tuple[list[TaskRow], bool]:
    """Keyset page on (campaign_id, id): page 10,000 costs what page 1 costs."""
    where, params = _where(campaign_id, task_filter)
    rows = await task_rows(f"{where} AND id > ?", [*params, after_id], f"ORDER BY id LIMIT {first + 1}")
    return rows[:first], len(rows) > first


async def task_count(campaign_id: int, task_filter: TaskFilter) -> int:
    where, params = _where(campaign_id, task_filter)
    return (await sql.fetch_scan(f"SELECT COUNT(*) FROM task WHERE {where}", params))[0][0]


async def task_by_id(task_id: int) -> Task | None:
    return await Task.get_or_none(id=task_id)


async def holds_active_task(user_id: int, asset_id: int) -> bool:
    """Whether the user holds an active task on the asset."""
    return await Task.filter(asset_id=asset_id, assignee_id=user_id, status__in=list(ACTIVE)).exists()


async def tasks_at_position(campaign_id: int, position: int, limit: int) -> list[Task]:
    """The first `limit` tasks (by id) at the step of this position."""
    return await Task.filter(campaign_id=campaign_id, step__position=position).order_by("id").limit(limit)


async def my_active_tasks(user_id: int, organization_id: int) -> list[tuple[Campaign, list[Task]]]:
    """The user's active tasks in the organization, grouped by campaign (oldest campaign first)."""
    campaign_ids = await Campaign.filter(organization_id=organization_id).values_list("id", flat=True)
    tasks = await Task.filter(assignee_id=user_id, status__in=list(ACTIVE), campaign_id__in=campaign_ids).order_by("id")
    by_campaign: dict[int, list[Task]] = defaultdict(list)
    for task in tasks:
        by_campaign[task.campaign_id].append(task)
    campaigns = {c.id: c for c in await Campaign.filter(id__in=list(by_campaign))}
    return [(campaigns[cid], by_campaign[cid]) for cid in sorted(by_campaign)]


@dataclass
class Progress:
    total: int = 0
    by_status: dict[TaskStatus, int] = field(default_factory=dict)
    active_by_step: dict[int, int] = field(default_factory=dict)
    percent: float = 0.0


async def campaign_progress(campaign: Campaign, steps: list[Step]) -> Progress:
    """Counted with one grouped query over the campaign's tasks (off the event loop on SQLite: it
    reads every task); `steps` are the campaign's, for their positions."""
    rows = await sql.fetch_scan(
        "SELECT status, step_id, COUNT(*), SUM(submit_count) FROM task WHERE campaign_id = ? GROUP BY status, step_id",
        [campaign.id])
    positions = {step.id: step.position for step in steps}
    progress = Progress()
    submitted = remaining = 0
    for status, step_id, count, submits in rows:
        status = TaskStatus(status)
        progress.total += count
        progress.by_status[status] = progress.by_status.get(status, 0) + count
        submitted += submits or 0
        if status in ACTIVE and step_id in positions:
            progress.active_by_step[step_id] = progress.active_by_step.get(step_id, 0) + count
            remaining += count * remaining_submissions(len(positions), positions[step_id])
    progress.percent = progress_percent(submitted, remaining, campaign.launched_at is not None)
    return progress
