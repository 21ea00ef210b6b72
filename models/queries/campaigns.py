"""Read side of campaigns: one campaign as it is now, and an organization's campaigns a page at a time."""

from __future__ import annotations

from datetime import datetime

from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign
from stepwise.models.workflow import CampaignStatus
from stepwise.permissions import visibility


async def campaign_by_id(campaign_id: int) -> Campaign:
    """The campaign, read afresh (a long-lived subscription must not keep a stale copy)."""
    return await Campaign.get(id=campaign_id)


def _past_due(now: datetime) -> tuple[str, list]:
    """SQL true when the campaign's due date has passed: `displayed_status`'s OVERDUE test. SQLite
    stores ISO text with the offset it was given; julianday() compares it as a moment."""
    if sql.is_postgres(sql.current_connection()):
        return "campaign.due_date < ?", [now]
    return "julianday(campaign.due_date) < julianday(?)", [now.isoformat(" ")]


def _where(organization_id: int, viewer_id: int, status: CampaignStatus | None, now: datetime) -> tuple[str, list]:
    """The organization's campaigns the viewer may open, in `status` as displayed (OVERDUE is an
    ONGOING campaign past its due date, never stored)."""
    visible = visibility.campaign_filter(viewer_id)
    clauses, params = ["campaign.organization_id = ?", visible.sql], [organization_id, *visible.params]
    if status is not None:
        stored = CampaignStatus.ONGOING if status is CampaignStatus.OVERDUE else status
        clauses.append("campaign.status = ?")
        params.append(stored.value)
        if stored is CampaignStatus.ONGOING:
            past_due, due_params = _past_due(now)
            wanted = past_due if status is CampaignStatus.OVERDUE else f"NOT (campaign.due_date IS NOT NULL AND {past_due})"
            clauses.append(wanted)
            params += due_params
    return " AND ".join(clauses), params


async def organization_campaign_page(organization_id: int, viewer_id: int, status: CampaignStatus | None,
                                     now: datetime, first: int, before_id: int) -> tuple[list[Campaign], bool]:
    """Up to `first` campaigns, newest first, older than `before_id` (0: from the newest), and
    whether more follow."""
    where, params = _where(organization_id, viewer_id, status, now)
    if before_id:
        where, params = f"{where} AND campaign.id < ?", [*params, before_id]
    rows = await sql.fetch_models(Campaign, where, params, f"ORDER BY campaign.id DESC LIMIT {first + 1}")
    return rows[:first], len(rows) > first


async def organization_campaign_count(organization_id: int, viewer_id: int, status: CampaignStatus | None,
                                      now: datetime) -> int:
    """How many campaigns the page's filter matches: off the event loop on SQLite (sql.fetch_scan)."""
    where, params = _where(organization_id, viewer_id, status, now)
    return (await sql.fetch_scan(f"SELECT COUNT(*) FROM campaign WHERE {where}", params))[0][0]
