"""Read side of campaigns: one campaign as it is now."""

from __future__ import annotations

from stepwise.models.db.campaigns import Campaign


async def campaign_by_id(campaign_id: int) -> Campaign:
    """The campaign, read afresh (a long-lived subscription must not keep a stale copy)."""
    return await Campaign.get(id=campaign_id)
