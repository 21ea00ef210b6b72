"""Assets, their annotations and the paged list of a version's assets."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from stepwise.models.db import datasets as db
from stepwise.models.shapes import shape_area
from stepwise.models.db.accounts import User as UserRow
from stepwise.resolvers.fields.common import row_by_id, row_scope
from stepwise.resolvers.fields.datasets import asset_task, version_asset_count
from stepwise.resolvers.fields.issues import asset_issues
from stepwise.schema.context import Info
from stepwise.schema.ids import encode_id
from stepwise.schema.types.accounts import User, user_or_none
from stepwise.schema.types.common import Node, PageInfo
from stepwise.schema.types.enums import IssueStatusType, ShapeKindType

if TYPE_CHECKING:
    from stepwise.schema.types.datasets import DatasetVersion, Label
    from stepwise.schema.types.issues import Issue
    from stepwise.schema.types.tasks import Task

VersionRef = Annotated["DatasetVersion", strawberry.lazy("stepwise.schema.types.datasets")]
LabelRef = Annotated["Label", strawberry.lazy("stepwise.schema.types.datasets")]
TaskRef = Annotated["Task", strawberry.lazy("stepwise.schema.types.tasks")]
IssueRef = Annotated["Issue", strawberry.lazy("stepwise.schema.types.issues")]


@strawberry.type(description="A position in pixels from the asset's top-left corner.")
class Point:
    x: float = strawberry.field(description="Pixels from the left edge.")
    y: float = strawberry.field(description="Pixels from the top edge.")


@strawberry.type(description="One labelled geometry of an annotation.")
class Shape:
    stored: strawberry.Private[dict]

    @strawberry.field(description="The shape's label.")
    async def label(self, info: Info) -> LabelRef:
        from stepwise.schema.types.datasets import Label

        return Label.from_row(await row_by_id(info, db.Label, self.stored["label"]))

    @strawberry.field(description="The shape's geometry.")
    def kind(self) -> ShapeKindType:
        return ShapeKindType(self.stored["kind"])

    @strawberry.field(
        description="RECTANGLE: two corners (top-left, bottom-right); POLYGON: three or more; "
        "LINE: two or more; POINT: one; CLASSIFICATION: none."
    )
    def points(self) -> list[Point]:
        return [Point(x=x, y=y) for x, y in self.stored["points"]]

    @strawberry.field(description="Area in square pixels: RECTANGLE and POLYGON only, otherwise 0.")
    def area(self) -> float:
        return shape_area(self.stored["kind"], self.stored["points"])


@strawberry.type(description="A set of shapes on an asset, with who saved it last and when.")
class Annotation:
    shapes_json: strawberry.Private[list]
    updated_at: datetime = strawberry.field(description="When this annotation was last changed.")
    updated_by_id: strawberry.Private[int | None]

    @strawberry.field(description="The shapes, in the order they were given.")
    def shapes(self) -> list[Shape]:
        return [Shape(stored=s) for s in self.shapes_json]

    @strawberry.field(description="Who changed it last; null for imported annotations.")
    async def updated_by(self, info: Info) -> User | None:
        return user_or_none(await row_by_id(info, UserRow, self.updated_by_id))


def annotation_of(shapes: list | None, updated_at: datetime | None, updated_by_id: int | None) -> Annotation | None:
    """The GraphQL Annotation of stored shapes (an asset's, a task's, or one submitted at a step)."""
    if shapes is None:
        return None
    return Annotation(shapes_json=shapes, updated_at=updated_at, updated_by_id=updated_by_id)


@strawberry.type(description="An image of a dataset version.")
class Asset(Node):
    row: strawberry.Private[db.Asset]
    filename: str = strawberry.field(description="The file name, unique within its version.")
    width: int = strawberry.field(description="Width in pixels.")
    height: int = strawberry.field(description="Height in pixels.")
    url: str | None = strawberry.field(description="Where the image can be downloaded, if known.")
    # The asset of a sealed task (Task.sealed_from_row): its identity, none of its content.
    sealed: strawberry.Private[bool] = False

    @classmethod
    def from_row(cls, row: db.Asset) -> Asset:
        return cls(id=encode_id("Asset", row.id), row=row, filename=row.filename, width=row.width,
                   height=row.height, url=row.url)

    async def scope(self, info: Info) -> tuple[int, int | None]:
        return await row_scope(info, self.row)

    @strawberry.field(description="The version this asset belongs to.")
    async def dataset_version(self, info: Info) -> VersionRef:
        from stepwise.schema.types.datasets import DatasetVersion

        return DatasetVersion.from_row(await row_by_id(info, db.DatasetVersion, self.row.version_id))

    @strawberry.field(
        description="The asset's accepted annotation: pre-existing, or the one that finished the workflow."
    )
    def annotation(self) -> Annotation | None:
        if self.sealed:
            return None
        row = self.row
        return annotation_of(row.annotation, row.annotation_updated_at or row.created_at, row.annotation_updated_by_id)

    @strawberry.field(description="The asset's task in its version's campaign; null before launch.")
    async def task(self, info: Info) -> TaskRef | None:
        from stepwise.schema.types.tasks import Task

        if self.sealed:
            return None
        row = await asset_task(info, self.row.id)
        return Task.from_row(row, info) if row else None

    @strawberry.field(description="Issues raised on this asset, oldest first, optionally by status.")
    async def issues(
        self,
        info: Info,
        status: Annotated[IssueStatusType | None, strawberry.argument(description="Only issues in this status.")] = None,
    ) -> list[IssueRef]:
        from stepwise.schema.types.issues import Issue

        return [] if self.sealed else [Issue.from_row(r) for r in await asset_issues(info, self.row.id, status)]


@strawberry.type(description="An asset in a page, with its cursor.")
class AssetEdge:
    cursor: str = strawberry.field(description="Pass it as `after` to continue after this asset.")
    node: Asset = strawberry.field(description="The asset.")


@strawberry.type(description="A page of a version's assets, in the order they were added.")
class AssetConnection:
    edges: list[AssetEdge] = strawberry.field(description="The assets of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the whole list.")
    version_id: strawberry.Private[int]

    @strawberry.field(description="How many assets the whole list holds.")
    async def total_count(self, info: Info) -> int:
        return await version_asset_count(info, self.version_id)
