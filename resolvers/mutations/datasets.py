"""Mutations of datasets, workers, versions and assets."""

from __future__ import annotations

from typing import Annotated

import strawberry

from stepwise.models.actions import assets, datasets, workers
from stepwise.permissions.graphql import guard
from stepwise.subscriptions.publish import publish_committed
from stepwise.resolvers.mutations.results import INPUT, payload_of
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.inputs import (
    AddAssetsInput,
    AddDatasetWorkerInput,
    CreateDatasetInput,
    CreateDatasetVersionInput,
    RemoveDatasetWorkerInput,
)
from stepwise.schema.payloads import (
    AddAssetsPayload,
    DatasetPayload,
    DatasetVersionPayload,
    DatasetWorkerPayload,
    RemoveDatasetWorkerPayload,
)
from stepwise.schema.types.assets import Asset
from stepwise.schema.types.datasets import Dataset, DatasetVersion, DatasetWorker


def _asset_draft(item) -> assets.AssetDraft:
    shapes = None if item.shapes is None else [shape.to_draft() for shape in item.shapes]
    return assets.AssetDraft(item.filename, item.width, item.height, item.url, shapes)


@strawberry.type
class DatasetMutations:
    @strawberry.mutation(
        description="Create a dataset (ADMIN or MEMBER); you become its MANAGER.", permission_classes=guard("Mutation.createDataset")
    )
    async def create_dataset(self, info: Info, input: Annotated[CreateDatasetInput, INPUT]) -> DatasetPayload:
        org_id = decode_id(input.organization_id, "Organization")

        async def run() -> DatasetPayload:
            row = await datasets.create_dataset(info.context.access, org_id, input.name)
            return DatasetPayload(dataset=Dataset.from_row(row))

        return await payload_of(DatasetPayload, run)

    @strawberry.mutation(
        description="Make a member of the organization a worker of the dataset, or change their role (MANAGER only).",
        permission_classes=guard("Mutation.addDatasetWorker"),
    )
    async def add_dataset_worker(self, info: Info, input: Annotated[AddDatasetWorkerInput, INPUT]) -> DatasetWorkerPayload:
        dataset_id = decode_id(input.dataset_id, "Dataset")
        user_id = decode_id(input.user_id, "User")

        async def run() -> DatasetWorkerPayload:
            row = await datasets.add_dataset_worker(info.context.access, dataset_id, user_id, input.role)
            return DatasetWorkerPayload(worker=DatasetWorker(row=row))

        return await payload_of(DatasetWorkerPayload, run)

    @strawberry.mutation(
        description="Takes a worker off the dataset (and off every step of its campaign); MANAGER only. "
        "Refused while they hold active tasks (INVALID_STATE) or are the last assignee of a step of a launched campaign (NO_ASSIGNEES).",
        permission_classes=guard("Mutation.removeDatasetWorker"),
    )
    async def remove_dataset_worker(
        self, info: Info, input: Annotated[RemoveDatasetWorkerInput, INPUT]
    ) -> RemoveDatasetWorkerPayload:
        dataset_id = decode_id(input.dataset_id, "Dataset")
        user_id = decode_id(input.user_id, "User")

        async def run() -> RemoveDatasetWorkerPayload:
            row = await workers.remove_dataset_worker(info.context.access, dataset_id, user_id)
            return RemoveDatasetWorkerPayload(dataset=Dataset.from_row(row))

        return await payload_of(RemoveDatasetWorkerPayload, run)

    @strawberry.mutation(description="Create a version of a dataset with its labels (MANAGER only).", permission_classes=guard("Mutation.createDatasetVersion"))
    async def create_dataset_version(self, info: Info, input: Annotated[CreateDatasetVersionInput, INPUT]) -> DatasetVersionPayload:
        dataset_id = decode_id(input.dataset_id, "Dataset")

        async def run() -> DatasetVersionPayload:
            row = await datasets.create_dataset_version(info.context.access, dataset_id, input.name, input.labels)
            return DatasetVersionPayload(dataset_version=DatasetVersion.from_row(row))

        return await payload_of(DatasetVersionPayload, run)

    @strawberry.mutation(
        description="Add up to 10,000 assets to a version, all or none (MANAGER only).", permission_classes=guard("Mutation.addAssets")
    )
    async def add_assets(self, info: Info, input: Annotated[AddAssetsInput, INPUT]) -> AddAssetsPayload:
        version_id = decode_id(input.dataset_version_id, "DatasetVersion")

        async def run() -> AddAssetsPayload:
            rows, created = await assets.add_assets(info.context.access, version_id, [_asset_draft(a) for a in input.assets])
            await publish_committed(info.context.bus, [created] if created else [])
            return AddAssetsPayload(assets=[Asset.from_row(row) for row in rows])

        return await payload_of(AddAssetsPayload, run)
