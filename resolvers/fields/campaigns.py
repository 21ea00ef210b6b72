"""What the fields of campaigns and steps fetch (schema/types/campaigns.py wraps the rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepwise.models.db.accounts import User as UserRow
from stepwise.models.queries.tasks import Progress, campaign_progress
from stepwise.resolvers.fields.common import rows_by_ids

if TYPE_CHECKING:
    from stepwise.schema.context import Info


async def step_assignees(info: Info, step_id: int) -> list:
    """The user rows of the step's assignees, in attribution order."""
    rows = await info.context.loaders.assignees_by_step.load(step_id)
    return await rows_by_ids(info, UserRow, [row.user_id for row in rows])


async def campaign_steps(info: Info, campaign_id: int) -> list:
    """The campaign's step rows, by position."""
    return await info.context.loaders.steps_by_campaign.load(campaign_id)


async def campaign_progress_rows(info: Info, campaign) -> tuple[list, Progress]:
    """The campaign's steps and its task counters (the steps give the positions)."""
    steps = await info.context.loaders.steps_by_campaign.load(campaign.id)
    return steps, await campaign_progress(campaign, steps)


async def campaign_instructions(info: Info, campaign_id: int):
    """The campaign's instructions row (file name, size, upload time), or None before any upload."""
    return await info.context.loaders.instructions_by_campaign.load(campaign_id)
