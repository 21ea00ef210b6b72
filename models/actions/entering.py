"""A task entering a step: who gets it (sticky holder, round robin, least loaded), and the
record of who held it at the steps it left."""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign
from stepwise.models.queries.workflow import WorkflowStep, lock_step
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


def holder_write(task_id: int, step_id: int, user_id: int) -> tuple[str, list]:
    """The upsert recording who held the task at a step it is leaving (for a later return there)."""
    return ("INSERT INTO task_step_holder (task_id, step_id, user_id) VALUES (?, ?, ?)"
            " ON CONFLICT (task_id, step_id) DO UPDATE SET user_id = excluded.user_id", [task_id, step_id, user_id])


async def choose_assignee(campaign: Campaign, task_id: int, step: WorkflowStep,
                          forced: int | None = None) -> tuple[int, int]:
    """Who gets `task_id` entering `step` (`forced`: a rework back to its submitter), and the
    step's round-robin position afterwards. `step` comes from load_task_workflow."""
    if forced is not None:
        return forced, step.round_robin_next
    if step.holder not in step.assignees:  # no sticky return: the policy decides
        await lock_step(step)
    loads = (
        await active_loads(campaign.id, step.assignees, task_id)
        if campaign.attribution_policy is AttributionPolicy.LEAST_LOADED
        else None
    )
    return attribute(campaign.attribution_policy, step.assignees, previous_holder=step.holder,
                     round_robin_next=step.round_robin_next, loads=loads)
