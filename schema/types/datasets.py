"""Datasets, their workers, versions and labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from stepwise.exports import export_url
from stepwise.models.db import accounts as accounts_db
from stepwise.models.db import datasets as db
from stepwise.permissions.graphql import guard
from stepwise.resolvers.fields.analytics import quality_figures
from stepwise.resolvers.fields.common import row_by_id, row_scope
from stepwise.resolvers.fields.datasets import (
    dataset_versions,
    dataset_workers,
    version_asset_count,
    version_asset_page,
    version_campaign,
    version_labels,
    viewer_dataset_role,
)
from stepwise.schema.context import Info
from stepwise.schema.ids import encode_id
from stepwise.schema.pagination import decode_cursor, encode_cursor, page_size
from stepwise.schema.types.accounts import Organization, User, user_or_none
from stepwise.schema.types.assets import Asset, AssetConnection, AssetEdge
from stepwise.schema.types.common import Node, page_info
from stepwise.schema.types.enums import AnnotationFormat, DatasetRole

if TYPE_CHECKING:
    from stepwise.schema.types.analytics import Quality
    from stepwise.schema.types.campaigns import Campaign

CampaignRef = Annotated["Campaign", strawberry.lazy("stepwise.schema.types.campaigns")]
QualityRef = Annotated["Quality", strawberry.lazy("stepwise.schema.types.analytics")]


@strawberry.type(description="A collection of images, worked on by its workers, in versions.")
class Dataset(Node):
    row: strawberry.Private[db.Dataset]

    @classmethod
    def from_row(cls, row: db.Dataset) -> Dataset:
        return cls(id=encode_id("Dataset", row.id), row=row)

    async def scope(self, info: Info) -> tuple[int, int | None]:
        return self.row.organization_id, self.row.id

    @strawberry.field(description="The dataset's name, unique within its organization.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="The organization that owns the dataset.")
    async def organization(self, info: Info) -> Organization:
        return Organization.from_row(await row_by_id(info, accounts_db.Organization, self.row.organization_id))

    @strawberry.field(description="The viewer's role on this dataset (organization admins act as MANAGER).")
    async def viewer_role(self, info: Info) -> DatasetRole | None:
        return await viewer_dataset_role(info, self.row)

    @strawberry.field(
        description="The dataset's workers, in the order they were added. Not for LABELER workers (FORBIDDEN).",
        permission_classes=guard("Dataset.workers"),
    )
    async def workers(self, info: Info) -> list[DatasetWorker]:
        rows = await dataset_workers(info, self.row.id)
        return [DatasetWorker(row=row) for row in rows]

    @strawberry.field(
        description="The dataset's versions, oldest first. Not for LABELER workers (FORBIDDEN).",
        permission_classes=guard("Dataset.versions"),
    )
    async def versions(self, info: Info) -> list[DatasetVersion]:
        rows = await dataset_versions(info, self.row.id)
        return [DatasetVersion.from_row(row) for row in rows]


@strawberry.type(description="A person working on a dataset, with their role there.")
class DatasetWorker:
    row: strawberry.Private[db.DatasetWorker]

    @strawberry.field(description="The worker.")
    async def user(self, info: Info) -> User:
        return user_or_none(await row_by_id(info, accounts_db.User, self.row.user_id))

    @strawberry.field(description="Their role on the dataset.")
    def role(self) -> DatasetRole:
        return self.row.role


@strawberry.type(description="A snapshot of a dataset: its assets and labels; it can hold one campaign.")
class DatasetVersion(Node):
    row: strawberry.Private[db.DatasetVersion]

    @classmethod
    def from_row(cls, row: db.DatasetVersion) -> DatasetVersion:
        return cls(id=encode_id("DatasetVersion", row.id), row=row)

    async def scope(self, info: Info) -> tuple[int, int | None]:
        return await row_scope(info, self.row)

    @strawberry.field(description="The version's name, unique within its dataset.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="The dataset this version belongs to.")
    async def dataset(self, info: Info) -> Dataset:
        return Dataset.from_row(await row_by_id(info, db.Dataset, self.row.dataset_id))

    @strawberry.field(description="The labels shapes may use, by name.")
    async def labels(self, info: Info) -> list[Label]:
        return [Label.from_row(row) for row in await version_labels(info, self.row.id)]

    @strawberry.field(description="How many assets the version holds.")
    async def asset_count(self, info: Info) -> int:
        return await version_asset_count(info, self.row.id)

    @strawberry.field(
        description="The version's assets in the order they were added, a page at a time. "
        "Not for LABELER workers (FORBIDDEN): they reach the assets of their own tasks through myTasks.",
        permission_classes=guard("DatasetVersion.assets"),
    )
    async def assets(
        self,
        first: Annotated[int | None, strawberry.argument(description="Page size, 0 to 500 (default 100).")] = None,
        after: Annotated[str | None, strawberry.argument(description="An `endCursor` to continue after.")] = None,
    ) -> AssetConnection:
        rows, has_next = await version_asset_page(self.row.id, page_size(first), decode_cursor(after))
        edges = [AssetEdge(cursor=encode_cursor(row.id), node=Asset.from_row(row)) for row in rows]
        return AssetConnection(edges=edges, page_info=page_info(edges, has_next, after), version_id=self.row.id)

    @strawberry.field(description="The version's annotation campaign, if one was created (at most one per version).")
    async def campaign(self, info: Info) -> CampaignRef | None:
        from stepwise.schema.types.campaigns import Campaign

        row = await version_campaign(info, self.row.id)
        return Campaign.from_row(row) if row else None

    @strawberry.field(
        description="Quality analytics over the version's current annotations. Not for LABELER workers (FORBIDDEN).",
        permission_classes=guard("DatasetVersion.quality"),
    )
    async def quality(
        self, info: Info,
        bins: Annotated[int | None, strawberry.argument(description="How many histogram bins, 1 to 100.")] = 10,
    ) -> QualityRef:
        from stepwise.schema.types.analytics import quality_from

        return quality_from(*await quality_figures(info, self.row.id, bins))

    @strawberry.field(
        description="A URL on this server that downloads the version's accepted annotations in this format "
        "(GET with the same bearer token; streamed). Not for LABELER workers (FORBIDDEN).",
        permission_classes=guard("DatasetVersion.exportUrl"),
    )
    def export_url(
        self, info: Info, format: Annotated[AnnotationFormat, strawberry.argument(description="COCO or YOLO.")]
    ) -> str:
        return export_url(self.id, format, getattr(info.context.request, "scope", {}).get("root_path", ""))


@strawberry.type(description="A class name that shapes of a version may carry.")
class Label(Node):
    row: strawberry.Private[db.Label]

    @classmethod
    def from_row(cls, row: db.Label) -> Label:
        return cls(id=encode_id("Label", row.id), row=row)

    async def scope(self, info: Info) -> tuple[int, int | None]:
        return await row_scope(info, self.row)

    @strawberry.field(description="The label's name, unique within its version.")
    def name(self) -> str:
        return self.row.name
