"""Launching a campaign: one task per asset of the version, attributed, in one transaction.

Set-based: the asset list is read once, attribution is computed in memory by the pure
`attribute_many`, tasks go in with one batched INSERT, annotations and CREATED events are
copied with INSERT/UPDATE ... SELECT. 100,000 assets are a handful of statements.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from stepwise.models import clock
from stepwise.models.actions.campaigns import find_campaign, locked
from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign
from stepwise.models.queries.workflow import WorkflowStep, load_workflow, save_round_robin
from stepwise.models.workflow import CampaignStatus, TaskStatus, attribute_many, check_launchable, entry_for
from stepwise.permissions.access import Access

INSERT_TASK = (
    "INSERT INTO task (campaign_id, asset_id, status, step_id, assignee_id, version, is_initial,"
    " step_entered_at, submit_count, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, 0, ?, ?)"
)
COPY_ANNOTATIONS = (
    "UPDATE task SET annotation = (SELECT a.annotation FROM asset a WHERE a.id = task.asset_id),"
    " annotation_updated_at = ? WHERE campaign_id = ? AND asset_id IN"
    " (SELECT id FROM asset WHERE version_id = ? AND annotation IS NOT NULL)"
)
CREATED_EVENTS = (
    "INSERT INTO task_event (task_id, campaign_id, kind, step_id, actor_id, assignee_id, at)"
    " SELECT id, campaign_id, 'CREATED', step_id, ?, assignee_id, ? FROM task WHERE campaign_id = ? {where} ORDER BY id"
)
HOLDERS = (
    "INSERT INTO task_step_holder (task_id, step_id, user_id)"
    " SELECT id, step_id, assignee_id FROM task WHERE campaign_id = ? AND step_id IS NOT NULL AND id >= ?"
)
DONE_EVENTS = (
    "INSERT INTO task_event (task_id, campaign_id, kind, step_id, actor_id, assignee_id, at)"
    " SELECT id, campaign_id, 'DONE', NULL, ?, NULL, ? FROM task WHERE campaign_id = ? AND status = 'DONE' {where} ORDER BY id"
)


async def create_tasks(
    campaign: Campaign, steps: list[WorkflowStep], assets: list[tuple[int, bool]], *, actor_id: int | None,
    initial: bool, loads: dict[int, int],
) -> tuple[int, int]:
    """Insert attributed tasks for `assets` (id, has annotation) with their CREATED (and DONE)
    events; return (tasks created, how many are active). Callers own the transaction."""
    now = clock.now()
    step_types = [s.type for s in steps]
    entries = {has: entry_for(campaign.preexisting_strategy, has, step_types) for has in {h for _, h in assets}}
    by_step: dict[int | None, list[int]] = {}
    for asset_id, has in assets:
        by_step.setdefault(entries[has].step_index, []).append(asset_id)
    rows = []
    for step_index in sorted(by_step, key=lambda i: -1 if i is None else i):
        asset_ids = by_step[step_index]
        if step_index is None:
            rows += [(campaign.id, a, TaskStatus.DONE.value, None, None, initial, None, now, now) for a in asset_ids]
            continue
        step = steps[step_index]
        chosen, next_index = attribute_many(
            campaign.attribution_policy, step.assignees, len(asset_ids), round_robin_next=step.round_robin_next, loads=loads
        )
        await save_round_robin(step, next_index)
        status = TaskStatus.IN_PROGRESS.value
        rows += [(campaign.id, a, status, step.id, u, initial, now, now, now) for a, u in zip(asset_ids, chosen, strict=True)]
    first_new_id = await _next_task_id()
    await sql.execute_many(INSERT_TASK, rows)
    if any(entry.copies_annotation for entry in entries.values()):
        # Only the new tasks: their asset ids are this call's.
        await sql.execute(COPY_ANNOTATIONS + " AND id >= ?", [now, campaign.id, campaign.version_id, first_new_id])
    await sql.execute(HOLDERS, [campaign.id, first_new_id])
    where = "AND id >= ?"
    await sql.execute(CREATED_EVENTS.format(where=where), [actor_id, now, campaign.id, first_new_id])
    if None in by_step:
        await sql.execute(DONE_EVENTS.format(where=where), [actor_id, now, campaign.id, first_new_id])
    active = sum(len(ids) for index, ids in by_step.items() if index is not None)
    return len(rows), active


async def _next_task_id() -> int:
    """Task ids only grow, and writers are serialized by the transaction: new rows are >= this."""
    rows = await sql.fetch("SELECT COALESCE(MAX(id), 0) + 1 FROM task")
    return rows[0][0]


async def launch_campaign(access: Access, campaign_id: int) -> Campaign:
    """DRAFT → ONGOING with every asset's task, or COMPLETED when nothing is left to do."""
    viewer = access.require_viewer()
    campaign = await find_campaign(access, campaign_id, "campaign.configure")
    async with in_transaction():
        campaign = await locked(campaign)
        steps = await load_workflow(campaign.id)
        check_launchable(campaign.status, [len(s.assignees) for s in steps])
        assets = [
            (asset_id, bool(has))
            for asset_id, has in await sql.fetch(
                "SELECT id, CASE WHEN annotation IS NULL THEN 0 ELSE 1 END FROM asset WHERE version_id = ? ORDER BY id",
                [campaign.version_id],
            )
        ]
        _, active = await create_tasks(campaign, steps, assets, actor_id=viewer.id, initial=True, loads={})
        now = clock.now()
        campaign.launched_at = now
        campaign.status = CampaignStatus.ONGOING if active else CampaignStatus.COMPLETED
        campaign.completed_at = None if active else now
        await campaign.save(update_fields=["status", "launched_at", "completed_at"])
    return campaign

