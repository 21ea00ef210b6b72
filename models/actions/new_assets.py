"""Assets added to a version whose campaign runs get tasks, as at launch (newAssetPolicy)."""

from __future__ import annotations

from stepwise.models import clock
from stepwise.models.actions.completion import complete_if_finished
from stepwise.models.actions.entering import active_loads
from stepwise.models.actions.launch import create_tasks
from stepwise.models.db.campaigns import Campaign, Task
from stepwise.models.queries.workflow import load_workflow
from stepwise.models.workflow import ACTIVE, CampaignStatus, accepts_new_assets


async def add_tasks_for_new_assets(version_id: int, assets: list[tuple[int, bool]]) -> int:
    """Create the new assets' tasks when the campaign takes them; the caller owns the transaction.
    A COMPLETED campaign that gains an active task is ONGOING again. Returns tasks created."""
    campaign = await Campaign.filter(version_id=version_id).select_for_update().first()
    if campaign is None or not assets:
        return 0
    initial_open = await Task.filter(campaign_id=campaign.id, is_initial=True, status__in=list(ACTIVE)).exists()
    if not accepts_new_assets(campaign.status, campaign.new_asset_policy, campaign.close_to_new_assets, initial_open):
        return 0
    steps = await load_workflow(campaign.id)
    everyone = sorted({user for step in steps for user in step.assignees})
    loads = await active_loads(campaign.id, everyone, moving_task_id=0)
    created, active = await create_tasks(campaign, steps, assets, actor_id=None, initial=False, loads=loads)
    if active and campaign.status is CampaignStatus.COMPLETED:
        await Campaign.filter(id=campaign.id).update(status=CampaignStatus.ONGOING, completed_at=None)
    elif not active and campaign.status is CampaignStatus.ONGOING:
        # Every new task was DONE at once; the campaign may have nothing left.
        await complete_if_finished(campaign, clock.now())
    return created
