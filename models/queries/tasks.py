"""Read side of tasks: keyset pages with filters, counts, the viewer's own tasks, progress."""

from __future__ import annotations

from dataclasses import dataclass, field

from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign, Step, Task
from stepwise.models.queries.rows import TASK_COLUMNS, TaskRow, in_list, task_rows
from stepwise.models.workflow import ACTIVE, TaskStatus, progress_percent, remaining_submissions
from stepwise.permissions import visibility
from stepwise.permissions.visibility import ACTIVE_STATUSES


@dataclass(frozen=True)
class TaskCriteria:
    """What a campaign's task list is narrowed to (the decoded GraphQL `TaskFilter`); all given must hold."""

    statuses: tuple[TaskStatus, ...] | None = None
    step_id: int | None = None
    assignee_id: int | None = None


def _where(campaign_id: int, criteria: TaskCriteria) -> tuple[str, list]:
    clauses, params = ["campaign_id = ?"], [campaign_id]
    if criteria.statuses:
        clauses.append(f"status IN ({in_list(list(criteria.statuses))})")
        params += [s.value for s in criteria.statuses]
    if criteria.step_id is not None:
        clauses.append("step_id = ?")
        params.append(criteria.step_id)
    if criteria.assignee_id is not None:
        clauses.append("assignee_id = ?")
        params.append(criteria.assignee_id)
    return " AND ".join(clauses), params


async def task_page(campaign_id: int, criteria: TaskCriteria, first: int, after_id: int) -> tuple[list[TaskRow], bool]:
    """Keyset page on (campaign_id, id): page 10,000 costs what page 1 costs."""
    where, params = _where(campaign_id, criteria)
    rows = await task_rows(f"{where} AND id > ?", [*params, after_id], f"ORDER BY id LIMIT {first + 1}")
    return rows[:first], len(rows) > first


async def task_count(campaign_id: int, criteria: TaskCriteria) -> int:
    where, params = _where(campaign_id, criteria)
    return (await sql.fetch_scan(f"SELECT COUNT(*) FROM task WHERE {where}", params))[0][0]


async def task_by_id(task_id: int) -> Task | None:
    return await Task.get_or_none(id=task_id)


async def tasks_at_position(campaign_id: int, position: int, limit: int) -> list[Task]:
    """The first `limit` tasks (by id) at the step of this position."""
    return await Task.filter(campaign_id=campaign_id, step__position=position).order_by("id").limit(limit)


async def my_active_tasks(user_id: int, organization_id: int) -> list[tuple[Campaign, list[TaskRow]]]:
    """The user's active tasks in the organization that they may see (permissions/visibility.py),
    grouped by campaign, oldest campaign first: one statement, off the event loop on SQLite (the
    list is not paged)."""
    visible = visibility.task_filter(user_id, "t")
    campaign_columns, campaign_select = sql.model_columns(Campaign, "c")
    task_select = ", ".join(f"t.{column.strip()}" for column in TASK_COLUMNS.split(","))
    rows = await sql.fetch_scan(
        f"SELECT {task_select}, {campaign_select} FROM task t JOIN campaign c ON c.id = t.campaign_id"
        f" WHERE t.assignee_id = ? AND t.status IN ({in_list(ACTIVE_STATUSES)}) AND c.organization_id = ?"
        f" AND {visible.sql} ORDER BY t.campaign_id, t.id",
        [user_id, *ACTIVE_STATUSES, organization_id, *visible.params])
    width = len(TASK_COLUMNS.split(","))
    groups: dict[int, tuple[Campaign, list[TaskRow]]] = {}
    for row in rows:
        task = TaskRow(row[:width])
        if task.campaign_id not in groups:
            groups[task.campaign_id] = (sql.model_from_row(Campaign, campaign_columns, row[width:]), [])
        groups[task.campaign_id][1].append(task)
    return list(groups.values())


@dataclass
class Progress:
    total: int = 0
    by_status: dict[TaskStatus, int] = field(default_factory=dict)
    active_by_step: dict[int, int] = field(default_factory=dict)
    percent: float = 0.0


async def campaign_progress(campaign: Campaign, steps: list[Step]) -> Progress:
    """Counted with one grouped query over the campaign's task counts (models/db/rollups.py
    TaskCount: a few rows per step and worker, kept by every task write); `steps` are the
    campaign's, for their positions."""
    rows = await sql.fetch_scan(
        "SELECT status, step_id, SUM(n), SUM(submits) FROM task_count WHERE campaign_id = ? GROUP BY status, step_id",
        [campaign.id])
    positions = {step.id: step.position for step in steps}
    progress = Progress()
    submitted = remaining = 0
    for status, step_id, count, submits in rows:
        submitted += int(submits or 0)  # PostgreSQL sums a BIGINT as NUMERIC
        count = int(count)
        if not count:  # every task of this key moved on
            continue
        status = TaskStatus(status)
        progress.total += count
        progress.by_status[status] = progress.by_status.get(status, 0) + count
        if status in ACTIVE and step_id in positions:
            progress.active_by_step[step_id] = progress.active_by_step.get(step_id, 0) + count
            remaining += count * remaining_submissions(len(positions), positions[step_id])
    progress.percent = progress_percent(submitted, remaining, campaign.launched_at is not None)
    return progress
