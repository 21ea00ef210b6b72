"""Assets added to a version whose campaign runs get tasks, as at launch (newAssetPolicy)."""

from __future__ import annotations

from stepwise.models import clock
from stepwise.models.actions.completion import complete_if_finished
from stepwise.models.actions.entering import active_loads
from stepwise.models.actions.launch import TaskCounts, insert_attributed, write_creation_events
from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign, Task
from stepwise.models.events import TasksCreated
from stepwise.models.queries.workflow import load_workflow
from stepwise.models.workflow import ACTIVE, CampaignStatus, accepts_new_assets, entry_for


async def add_tasks_for_new_assets(version_id: int, assets: list[tuple[int, bool]]) -> TasksCreated | None:
    """Create the new assets' tasks when the campaign takes them; the caller owns the transaction.
    A COMPLETED campaign that gains an active task is ONGOING again. Returns the range of their
    events in the campaign's log (None: no task created)."""
    campaign = await Campaign.filter(version_id=version_id).select_for_update().first()
    if campaign is None or not assets:
        return None
    initial_open = await Task.filter(campaign_id=campaign.id, is_initial=True, status__in=list(ACTIVE)).exists()
    if not accepts_new_assets(campaign.status, campaign.new_asset_policy, campaign.close_to_new_assets, initial_open):
        return None
    steps = await load_workflow(campaign.id)
    step_types = [s.type for s in steps]
    entries = {has: entry_for(campaign.preexisting_strategy, has, step_types) for has in {h for _, h in assets}}
    by_step: dict[int | None, list[int]] = {}
    for asset_id, has in assets:
        by_step.setdefault(entries[has].step_index, []).append(asset_id)
    loads = await active_loads(campaign.id, sorted({u for s in steps for u in s.assignees}))
    now = clock.now()
    first_task_id = await sql.next_id("task")
    counts: TaskCounts = {}
    for index in sorted(by_step, key=lambda i: -1 if i is None else i):
        step = None if index is None else steps[index]
        await insert_attributed(campaign, step, by_step[index], loads, counts, now, initial=False)
    copies = any(entry.copies_annotation for entry in entries.values())
    created = await write_creation_events(campaign, first_task_id, None, now, counts, copy_annotations=copies,
                                          any_done=None in by_step)
    active = sum(len(ids) for index, ids in by_step.items() if index is not None)
    if active and campaign.status is CampaignStatus.COMPLETED:
        await Campaign.filter(id=campaign.id).update(status=CampaignStatus.ONGOING, completed_at=None)
    elif not active and campaign.status is CampaignStatus.ONGOING:
        await complete_if_finished(campaign.id, now)  # every new task was DONE at once
    return created
