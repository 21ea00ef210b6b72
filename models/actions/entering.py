"""A task entering a step: who gets it (sticky holder, round robin, least loaded), and the
record of who held it at the steps it left."""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign, TaskStepHolder
from stepwise.models.queries.workflow import WorkflowStep, save_round_robin
from stepwise.models.workflow import AttributionPolicy, attribute


async def active_loads(campaign_id: int, user_ids: list[int], moving_task_id: int) -> dict[int, int]:
    """Active tasks per user in the whole campaign, counted in the database (the task that is
    moving does not count: it is about to leave its current holder)."""
    if not user_ids:
        return {}
    marks = ",".join("?" * len(user_ids))
    rows = await sql.fetch(
        f"SELECT assignee_id, COUNT(*) FROM task WHERE campaign_id = ? AND status IN ('IN_PROGRESS', 'TO_REWORK')"
        f" AND id <> ? AND assignee_id IN ({marks}) GROUP BY assignee_id",
        [campaign_id, moving_task_id, *user_ids],
    )
    return {user_id: count for user_id, count in rows}


async def previous_holder(task_id: int, step_id: int) -> int | None:
    return await TaskStepHolder.filter(task_id=task_id, step_id=step_id).first().values_list("user_id", flat=True)


async def remember_holder(task_id: int, step_id: int, user_id: int) -> None:
    """Record who held the task at a step it is leaving (for a later return there); one upsert."""
    await sql.execute(
        "INSERT INTO task_step_holder (task_id, step_id, user_id) VALUES (?, ?, ?)"
        " ON CONFLICT (task_id, step_id) DO UPDATE SET user_id = excluded.user_id",
        [task_id, step_id, user_id],
    )


async def choose_assignee(campaign: Campaign, task_id: int, step: WorkflowStep, forced: int | None = None) -> int:
    """The assignee of `task_id` entering `step` (or `forced`, for a rework back to its submitter)."""
    if forced is not None:
        return forced
    loads = (
        await active_loads(campaign.id, step.assignees, task_id)
        if campaign.attribution_policy is AttributionPolicy.LEAST_LOADED
        else None
    )
    chosen, next_index = attribute(
        campaign.attribution_policy, step.assignees, previous_holder=await previous_holder(task_id, step.id),
        round_robin_next=step.round_robin_next, loads=loads,
    )
    await save_round_robin(step, next_index)
    return chosen
