"""A task entering a step: who gets it (sticky holder, round robin, least loaded), and the
record of who held it at the steps it left."""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign
from stepwise.models.queries.workflow import WorkflowStep, lock_step
from stepwise.models.workflow import ACTIVE, AttributionPolicy, attribute

_ACTIVE = ", ".join(f"'{status.value}'" for status in ACTIVE)


async def active_loads(campaign_id: int, user_ids: list[int], leaving_holder: int | None = None) -> dict[int, int]:
    """Active tasks per user in the campaign, from the campaign's task counts (models/db/rollups.py
    TaskCount, kept by every task write in its transaction); `leaving_holder` holds the active task
    that is moving, which does not count (it is about to leave them).

    It runs under the write lock, so that loads are exact under concurrency; it reads a few counter
    rows per user (one per active status and step), however many tasks the campaign has, so it stays
    short on the event loop."""
    if not user_ids:
        return {}
    marks = ",".join("?" * len(user_ids))
    rows = await sql.fetch(
        f"SELECT assignee_id, SUM(n) FROM task_count WHERE campaign_id = ? AND status IN ({_ACTIVE})"
        f" AND assignee_id IN ({marks}) GROUP BY assignee_id",
        [campaign_id, *user_ids],
    )
    loads = {user_id: int(count) for user_id, count in rows}  # PostgreSQL sums as NUMERIC
    if leaving_holder in loads:
        loads[leaving_holder] -= 1
    return loads


def holder_write(task_id: int, step_id: int, user_id: int) -> tuple[str, list]:
    """The upsert recording who held the task at a step it is leaving (for a later return there)."""
    return ("INSERT INTO task_step_holder (task_id, step_id, user_id) VALUES (?, ?, ?)"
            " ON CONFLICT (task_id, step_id) DO UPDATE SET user_id = excluded.user_id", [task_id, step_id, user_id])


async def choose_assignee(campaign: Campaign, task_id: int, holder_now: int | None, step: WorkflowStep,
                          back_to_holder: bool = False) -> tuple[int, int]:
    """Who gets an active task held by `holder_now` entering `step` (`back_to_holder`: a rework
    back to its submitter, even if no longer an assignee there), and the step's round-robin
    position afterwards. `step` comes from load_task_workflow."""
    # Always under the step's lock, a return to a holder included: a removeDatasetWorker of that
    # holder committing meanwhile would leave them an active task (found by tests/api/test_races.py).
    await lock_step(step, task_id)
    if back_to_holder and step.holder is not None:
        return step.holder, step.round_robin_next
    # With one candidate, least loaded is that one: nothing to count.
    counts = campaign.attribution_policy is AttributionPolicy.LEAST_LOADED and len(set(step.assignees)) > 1
    loads = await active_loads(campaign.id, step.assignees, holder_now) if counts else None
    return attribute(campaign.attribution_policy, step.assignees, previous_holder=step.holder,
                     round_robin_next=step.round_robin_next, loads=loads)
