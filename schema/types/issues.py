"""Issues: problems raised on an asset during a campaign, each with a thread of comments."""

from __future__ import annotations

from datetime import datetime

import strawberry

from stepwise.models.db import issues as db
from stepwise.models.db.accounts import User as UserRow
from stepwise.models.db.campaigns import Step as StepRow
from stepwise.models.db.datasets import Asset as AssetRow
from stepwise.models.queries.issues import IssueFilter
from stepwise.resolvers.fields.common import row_by_id
from stepwise.resolvers.fields.issues import campaign_issue_count, issue_comments
from stepwise.schema.context import Info
from stepwise.schema.ids import encode_id
from stepwise.schema.pagination import encode_cursor
from stepwise.schema.types.accounts import User, user_or_none
from stepwise.schema.types.assets import Asset
from stepwise.schema.types.campaigns import Step, step_or_none
from stepwise.schema.types.common import Node, PageInfo, page_info
from stepwise.schema.types.enums import IssueCommentActionType, IssueKindType, IssueStatusType


@strawberry.type(description="A rectangle of an asset, in pixels from its top-left corner.")
class Zone:
    x: float = strawberry.field(description="Pixels from the left edge to the zone's left side.")
    y: float = strawberry.field(description="Pixels from the top edge to the zone's top side.")
    width: float = strawberry.field(description="The zone's width in pixels (positive).")
    height: float = strawberry.field(description="The zone's height in pixels (positive).")


@strawberry.type(description="One message of an issue's thread.")
class IssueComment:
    row: strawberry.Private[db.IssueComment]

    @strawberry.field(description="The comment's opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("IssueComment", self.row.id))

    @strawberry.field(description="Who wrote it.")
    async def author(self, info: Info) -> User:
        return user_or_none(await row_by_id(info, UserRow, self.row.author_id))

    @strawberry.field(description="The text; may be empty for RESOLVED and REOPENED comments.")
    def body(self) -> str:
        return self.row.body

    @strawberry.field(description="What the comment did to the issue.")
    def action(self) -> IssueCommentActionType:
        return IssueCommentActionType(self.row.action.value)

    @strawberry.field(description="When it was written.")
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type(description="A problem raised on an asset, on a zone or the whole image; an OPEN one blocks the last submit.")
class Issue(Node):
    row: strawberry.Private[db.Issue]

    @classmethod
    def from_row(cls, row: db.Issue) -> Issue:
        return cls(id=encode_id("Issue", row.id), row=row)

    @strawberry.field(description="The asset the issue is about.")
    async def asset(self, info: Info) -> Asset:
        return Asset.from_row(await row_by_id(info, AssetRow, self.row.asset_id))

    @strawberry.field(description="Whether it points at a zone or at the whole image.")
    def kind(self) -> IssueKindType:
        return IssueKindType(self.row.kind.value)

    @strawberry.field(description="Whether it still needs attention.")
    def status(self) -> IssueStatusType:
        return IssueStatusType(self.row.status.value)

    @strawberry.field(description="Set for ZONE issues only.")
    def zone(self) -> Zone | None:
        row = self.row
        if row.zone_x is None:
            return None
        return Zone(x=row.zone_x, y=row.zone_y, width=row.zone_width, height=row.zone_height)

    @strawberry.field(description="Who raised it.")
    async def author(self, info: Info) -> User:
        return user_or_none(await row_by_id(info, UserRow, self.row.author_id))

    @strawberry.field(description="The step the asset was at when the issue was raised.")
    async def step(self, info: Info) -> Step | None:
        return step_or_none(await row_by_id(info, StepRow, self.row.step_id))

    @strawberry.field(description="When it was raised.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When it was last resolved; null while OPEN.")
    def resolved_at(self) -> datetime | None:
        return self.row.resolved_at

    @strawberry.field(description="Who resolved it last; null while OPEN.")
    async def resolved_by(self, info: Info) -> User | None:
        return user_or_none(await row_by_id(info, UserRow, self.row.resolved_by_id))

    @strawberry.field(description="The thread, oldest first; the first comment is the issue's description.")
    async def comments(self, info: Info) -> list[IssueComment]:
        return [IssueComment(row=row) for row in await issue_comments(info, self.row.id)]


@strawberry.type(description="An issue in a page, with its cursor.")
class IssueEdge:
    cursor: str = strawberry.field(description="Pass it as `after` to continue after this issue.")
    node: Issue = strawberry.field(description="The issue.")


@strawberry.type(description="A page of a campaign's issues, oldest first.")
class IssueConnection:
    edges: list[IssueEdge] = strawberry.field(description="The issues of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the whole list.")
    campaign_id: strawberry.Private[int]
    issue_filter: strawberry.Private[IssueFilter]

    @strawberry.field(description="How many issues match the filter, over all pages.")
    async def total_count(self) -> int:
        return await campaign_issue_count(self.campaign_id, self.issue_filter)


def issue_connection(campaign_id: int, issue_filter: IssueFilter, after: str | None, rows: list,
                     has_next: bool) -> IssueConnection:
    """The connection of a page of issue rows (resolvers/fields/issues.py campaign_issue_page)."""
    edges = [IssueEdge(cursor=encode_cursor(row.id), node=Issue.from_row(row)) for row in rows]
    return IssueConnection(edges=edges, page_info=page_info(edges, has_next, after), campaign_id=campaign_id,
                           issue_filter=issue_filter)
