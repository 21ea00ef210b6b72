"""Configuring a campaign: create it, edit its workflow of steps and its settings."""

from __future__ import annotations

from datetime import datetime

from tortoise.exceptions import IntegrityError

from stepwise.models.actions.datasets import find_version
from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign, Step, StepAssignee
from stepwise.models.db.datasets import DatasetWorker
from stepwise.models.errors import DomainError, ErrorCode, NotFound, invalid_input
from stepwise.models.validation import require_name
from stepwise.models.workflow import (
    AttributionPolicy,
    CampaignStatus,
    NewAssetPolicy,
    PreexistingStrategy,
    StepType,
)
from stepwise.permissions.access import Access
from stepwise.permissions.operations import Operation, operation

MAX_STEPS = 20
MAX_ASSIGNEES = 200
CREATE_CAMPAIGN, UPDATE_CAMPAIGN = operation("Mutation.createCampaign"), operation("Mutation.updateCampaign")
ADD_STEP, UPDATE_STEP, REMOVE_STEP = operation("Mutation.addStep"), operation("Mutation.updateStep"), operation("Mutation.removeStep")


async def find_campaign(access: Access, campaign_id: int, operation: Operation, what: str = "Campaign") -> Campaign:
    """The campaign if the viewer may do `operation` on it; NOT_FOUND when they cannot see it. `what`
    names the object the caller asked for, so a hidden one reads exactly like a missing one."""
    campaign = await Campaign.get_or_none(id=campaign_id)
    if campaign is None:
        raise NotFound(what)
    await access.check(operation, campaign.organization_id, campaign.dataset_id, what=what)
    return campaign


async def create_campaign(access: Access, version_id: int) -> Campaign:
    """A DRAFT campaign on a version; a version holds at most one."""
    version, dataset = await find_version(access, version_id, CREATE_CAMPAIGN)
    if await Campaign.filter(version_id=version.id).exists():
        raise DomainError(ErrorCode.ALREADY_EXISTS, "This version already has a campaign.", "input.datasetVersionId")
    try:
        async with sql.transaction():
            return await Campaign.create(version=version, dataset=dataset, organization_id=dataset.organization_id)
    except IntegrityError:
        raise DomainError(ErrorCode.ALREADY_EXISTS, "This version already has a campaign.") from None


async def _checked_assignees(campaign: Campaign, user_ids: list[int], field: str) -> list[int]:
    if len(user_ids) > MAX_ASSIGNEES:
        raise invalid_input(field, f"At most {MAX_ASSIGNEES} assignees per step.")
    if len(set(user_ids)) != len(user_ids):
        raise invalid_input(field, "An assignee is listed twice.")
    workers = set(
        await DatasetWorker.filter(dataset_id=campaign.dataset_id, user_id__in=user_ids).values_list("user_id", flat=True)
    )
    for index, user_id in enumerate(user_ids):
        if user_id not in workers:
            raise DomainError(ErrorCode.NOT_A_WORKER, "Step assignees must be workers of the dataset.", f"{field}.{index}")
    return user_ids


async def _set_assignees(step: Step, user_ids: list[int]) -> None:
    await StepAssignee.filter(step=step).delete()
    await StepAssignee.bulk_create([StepAssignee(step=step, user_id=u, position=i) for i, u in enumerate(user_ids)])


async def _renumber(steps: list[Step]) -> None:
    """Write positions 0..n-1 in list order, touching only the steps that moved."""
    for index, step in enumerate(steps):
        if step.position != index:
            step.position = index
            await step.save(update_fields=["position"])


async def locked(campaign: Campaign) -> Campaign:
    """The campaign re-read inside the transaction, locked (PostgreSQL) against a concurrent launch."""
    return await Campaign.filter(id=campaign.id).select_for_update().get()


def _require_draft(campaign: Campaign, what: str) -> None:
    if campaign.status is not CampaignStatus.DRAFT:
        raise DomainError(ErrorCode.INVALID_STATE, f"{what} is only possible before launch.")


async def add_step(
    access: Access, campaign_id: int, name: str, step_type: StepType, assignee_ids: list[int], position: int | None
) -> tuple[Step, Campaign]:
    campaign = await find_campaign(access, campaign_id, ADD_STEP)
    name = require_name(name, "input.name")
    async with sql.transaction():
        campaign = await locked(campaign)
        _require_draft(campaign, "Adding a step")
        steps = await Step.filter(campaign=campaign).order_by("position")
        if len(steps) >= MAX_STEPS:
            raise invalid_input("input", f"A workflow has at most {MAX_STEPS} steps.")
        if position is None:
            position = len(steps)
        if not 0 <= position <= len(steps):
            raise invalid_input("input.position", f"Must be between 0 and {len(steps)}.")
        assignees = await _checked_assignees(campaign, assignee_ids, "input.assigneeIds")
        step = await Step.create(campaign=campaign, name=name, type=step_type, position=len(steps))
        await _set_assignees(step, assignees)
        steps.insert(position, step)
        await _renumber(steps)
    return step, campaign


async def find_step(access: Access, step_id: int, operation: Operation) -> tuple[Step, Campaign]:
    """The step and its campaign if the viewer may do `operation` on the campaign."""
    step = await Step.get_or_none(id=step_id)
    if step is None:
        raise NotFound("Step")
    return step, await find_campaign(access, step.campaign_id, operation, what="Step")


async def update_step(
    access: Access,
    step_id: int,
    *,
    name: str | None = None,
    step_type: StepType | None = None,
    assignee_ids: list[int] | None = None,
    position: int | None = None,
) -> tuple[Step, Campaign]:
    """Rename, retype, reassign or move a step; after launch only the name and assignees change."""
    step, campaign = await find_step(access, step_id, UPDATE_STEP)
    if name is not None:
        name = require_name(name, "input.name")
    async with sql.transaction():
        campaign = await locked(campaign)
        if (step_type is not None and step_type is not step.type) or (position is not None and position != step.position):
            _require_draft(campaign, "Changing a step's type or position")
        if assignee_ids is not None:
            await _set_assignees(step, await _checked_assignees(campaign, assignee_ids, "input.assigneeIds"))
        if name is not None or step_type is not None:
            step.name = name if name is not None else step.name
            step.type = step_type or step.type
            await step.save(update_fields=["name", "type"])
        if position is not None and position != step.position:
            steps = [s for s in await Step.filter(campaign=campaign).order_by("position") if s.id != step.id]
            if not 0 <= position <= len(steps):
                raise invalid_input("input.position", f"Must be between 0 and {len(steps)}.")
            steps.insert(position, step)
            await _renumber(steps)
    return step, campaign


async def remove_step(access: Access, step_id: int) -> tuple[Step, Campaign]:
    step, campaign = await find_step(access, step_id, REMOVE_STEP)
    async with sql.transaction():
        campaign = await locked(campaign)
        _require_draft(campaign, "Removing a step")
        await step.delete()
        await _renumber(list(await Step.filter(campaign=campaign).order_by("position")))
    return step, campaign


async def update_campaign(
    access: Access,
    campaign_id: int,
    *,
    new_asset_policy: NewAssetPolicy | None = None,
    attribution_policy: AttributionPolicy | None = None,
    preexisting_strategy: PreexistingStrategy | None = None,
    due_date: datetime | None = None,
    clear_due_date: bool = False,
    close_to_new_assets: bool | None = None,
) -> Campaign:
    campaign = await find_campaign(access, campaign_id, UPDATE_CAMPAIGN)
    if due_date is not None and clear_due_date:
        raise invalid_input("input.clearDueDate", "Give a dueDate or clearDueDate, not both.")
    if due_date is not None and due_date.tzinfo is None:
        raise invalid_input("input.dueDate", "Give a UTC offset (e.g. 2026-12-01T17:00:00Z).")
    changes = {
        "new_asset_policy": new_asset_policy,
        "attribution_policy": attribution_policy,
        "preexisting_strategy": preexisting_strategy,
        "close_to_new_assets": close_to_new_assets,
        "due_date": due_date,
    }
    async with sql.transaction():
        campaign = await locked(campaign)
        if preexisting_strategy is not None and preexisting_strategy is not campaign.preexisting_strategy:
            _require_draft(campaign, "Changing the pre-existing annotation strategy")
        for field, value in changes.items():
            if value is not None:
                setattr(campaign, field, value)
        if clear_due_date:
            campaign.due_date = None
        await campaign.save()
    return campaign
