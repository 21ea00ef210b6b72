"""importAnnotations: a COCO or YOLO file into a version (multipart request)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from stepwise.models.actions import imports
from stepwise.permissions.graphql import guard
from stepwise.resolvers.mutations.results import INPUT, payload_of
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.inputs import ImportAnnotationsInput
from stepwise.schema.payloads import ImportAnnotationsPayload
from stepwise.schema.types.datasets import DatasetVersion
from stepwise.subscriptions.publish import publish_committed


@strawberry.type
class ImportMutations:
    @strawberry.mutation(
        description="Bulk import of assets and annotations from a COCO or YOLO file (multipart request; "
        "docs/api.md), all or nothing. MANAGER only.",
        permission_classes=guard("Mutation.importAnnotations"),
    )
    async def import_annotations(self, info: Info, input: Annotated[ImportAnnotationsInput, INPUT]) -> ImportAnnotationsPayload:
        version_id = decode_id(input.dataset_version_id, "DatasetVersion")
        settings = info.context.settings

        async def run() -> ImportAnnotationsPayload:
            result = await imports.import_annotations(
                info.context.access, version_id, input.format, input.file, settings.max_upload_bytes)
            await publish_committed(info.context.bus, [result.created] if result.created else [])
            return ImportAnnotationsPayload(
                dataset_version=DatasetVersion.from_row(result.version), assets_added=result.assets_added,
                assets_annotated=result.assets_annotated, shapes_added=result.shapes_added)

        return await payload_of(ImportAnnotationsPayload, run)
