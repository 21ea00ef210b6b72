"""A campaign completes when its last active task is DONE or SKIPPED."""

from __future__ import annotations

from datetime import datetime

from stepwise.models.db.campaigns import Campaign, Task
from stepwise.models.workflow import ACTIVE, CampaignStatus


async def complete_if_finished(campaign: Campaign, now: datetime) -> bool:
    """Mark the campaign COMPLETED when no active task remains; True when it did."""
    if await Task.filter(campaign_id=campaign.id, status__in=list(ACTIVE)).exists():
        return False
    await Campaign.filter(id=campaign.id).update(status=CampaignStatus.COMPLETED, completed_at=now)
    return True
