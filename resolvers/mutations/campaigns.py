"""Mutations that configure and launch campaigns (MANAGER only)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from stepwise.models.actions import campaigns, instructions, launch
from stepwise.permissions.graphql import guard
from stepwise.subscriptions.publish import publish_committed
from stepwise.resolvers.mutations.results import INPUT, payload_of
from stepwise.schema.campaign_inputs import (
    AddStepInput,
    CreateCampaignInput,
    LaunchCampaignInput,
    RemoveStepInput,
    UpdateCampaignInput,
    UpdateStepInput,
    UploadInstructionsInput,
)
from stepwise.schema.campaign_payloads import CampaignPayload, StepPayload
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.types.campaigns import Campaign, Step

def given(value):
    """None for an input field left out (UNSET) or null."""
    return None if value is strawberry.UNSET else value


def user_ids(ids: list[strawberry.ID] | None) -> list[int] | None:
    return None if ids is None else [decode_id(i, "User") for i in ids]


def step_payload(result) -> StepPayload:
    step, campaign = result
    return StepPayload(step=Step.from_row(step), campaign=Campaign.from_row(campaign))


@strawberry.type
class CampaignMutations:
    @strawberry.mutation(description="Creates the DRAFT campaign of a dataset version (at most one per version). MANAGER only.", permission_classes=guard("Mutation.createCampaign"))
    async def create_campaign(self, info: Info, input: Annotated[CreateCampaignInput, INPUT]) -> CampaignPayload:
        version_id = decode_id(input.dataset_version_id, "DatasetVersion")

        async def run() -> CampaignPayload:
            return CampaignPayload(campaign=Campaign.from_row(await campaigns.create_campaign(info.context.access, version_id)))

        return await payload_of(CampaignPayload, run)

    @strawberry.mutation(description="Adds a step to a DRAFT campaign's workflow (appended unless `position` is given). MANAGER only.", permission_classes=guard("Mutation.addStep"))
    async def add_step(self, info: Info, input: Annotated[AddStepInput, INPUT]) -> StepPayload:
        campaign_id = decode_id(input.campaign_id, "Campaign")
        assignees = user_ids(input.assignee_ids)

        async def run() -> StepPayload:
            return step_payload(await campaigns.add_step(
                info.context.access, campaign_id, input.name, input.type, assignees, given(input.position)))

        return await payload_of(StepPayload, run)

    @strawberry.mutation(description="Changes a step. After launch only its name and assignees may change. MANAGER only.", permission_classes=guard("Mutation.updateStep"))
    async def update_step(self, info: Info, input: Annotated[UpdateStepInput, INPUT]) -> StepPayload:
        step_id = decode_id(input.step_id, "Step")
        assignees = user_ids(given(input.assignee_ids))

        async def run() -> StepPayload:
            return step_payload(await campaigns.update_step(
                info.context.access, step_id, name=given(input.name), step_type=given(input.type),
                assignee_ids=assignees, position=given(input.position)))

        return await payload_of(StepPayload, run)

    @strawberry.mutation(description="Removes a step from a DRAFT campaign; later steps move up. MANAGER only.", permission_classes=guard("Mutation.removeStep"))
    async def remove_step(self, info: Info, input: Annotated[RemoveStepInput, INPUT]) -> StepPayload:
        step_id = decode_id(input.step_id, "Step")

        async def run() -> StepPayload:
            step, campaign = await campaigns.remove_step(info.context.access, step_id)
            return StepPayload(step=None, campaign=Campaign.from_row(campaign))

        return await payload_of(StepPayload, run)

    @strawberry.mutation(description="Changes a campaign's settings. The pre-existing annotation strategy is fixed after launch. MANAGER only.", permission_classes=guard("Mutation.updateCampaign"))
    async def update_campaign(self, info: Info, input: Annotated[UpdateCampaignInput, INPUT]) -> CampaignPayload:
        campaign_id = decode_id(input.campaign_id, "Campaign")

        async def run() -> CampaignPayload:
            row = await campaigns.update_campaign(
                info.context.access, campaign_id,
                new_asset_policy=given(input.new_asset_policy),
                attribution_policy=given(input.attribution_policy),
                preexisting_strategy=given(input.preexisting_annotation_strategy),
                due_date=given(input.due_date), clear_due_date=bool(given(input.clear_due_date)),
                close_to_new_assets=given(input.close_to_new_assets_when_initial_tasks_done),
            )
            return CampaignPayload(campaign=Campaign.from_row(row))

        return await payload_of(CampaignPayload, run)

    @strawberry.mutation(description="Uploads the campaign's PDF instructions (multipart request; docs/api.md), replacing earlier ones. MANAGER only.", permission_classes=guard("Mutation.uploadInstructions"))
    async def upload_instructions(self, info: Info, input: Annotated[UploadInstructionsInput, INPUT]) -> CampaignPayload:
        campaign_id = decode_id(input.campaign_id, "Campaign")
        settings = info.context.settings

        async def run() -> CampaignPayload:
            row = await instructions.upload_instructions(
                info.context.access, campaign_id, input.file, settings.files_dir, settings.max_upload_bytes)
            return CampaignPayload(campaign=Campaign.from_row(row))

        return await payload_of(CampaignPayload, run)

    @strawberry.mutation(description="Launches a DRAFT campaign: every asset of the version gets a task, in one transaction. MANAGER only.", permission_classes=guard("Mutation.launchCampaign"))
    async def launch_campaign(self, info: Info, input: Annotated[LaunchCampaignInput, INPUT]) -> CampaignPayload:
        campaign_id = decode_id(input.campaign_id, "Campaign")

        async def run() -> CampaignPayload:
            row, created = await launch.launch_campaign(info.context.access, campaign_id)
            await publish_committed(info.context.bus, [created] if created else [])
            return CampaignPayload(campaign=Campaign.from_row(row))

        return await payload_of(CampaignPayload, run)
