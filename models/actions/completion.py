"""A campaign completes when its last active task is DONE or SKIPPED."""

from __future__ import annotations

from datetime import datetime

from stepwise.models.db import sql
from stepwise.models.workflow import ACTIVE, CampaignStatus

_ACTIVE = ", ".join(f"'{status.value}'" for status in ACTIVE)


def completion_write(campaign_id: int, now: datetime) -> tuple[str, list]:
    """The UPDATE marking the campaign COMPLETED if, and only if, no active task remains (one
    statement, so it can join a transition's other writes)."""
    return (
        "UPDATE campaign SET status = ?, completed_at = ? WHERE id = ? AND status = ?"
        f" AND NOT EXISTS (SELECT 1 FROM task WHERE campaign_id = ? AND status IN ({_ACTIVE}))",
        [CampaignStatus.COMPLETED.value, now, campaign_id, CampaignStatus.ONGOING.value, campaign_id],
    )


async def complete_if_finished(campaign_id: int, now: datetime) -> bool:
    """Mark an ONGOING campaign COMPLETED when no active task remains; True when it did."""
    return await sql.execute(*completion_write(campaign_id, now)) == 1
