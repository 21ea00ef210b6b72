"""Issues: problems raised on an asset during a campaign, each with a thread of comments.

Part of the contract, not served in this release (issues exist only in a launched campaign).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from stepwise.schema.types.accounts import User
from stepwise.schema.types.assets import Asset
from stepwise.schema.types.campaigns import Step
from stepwise.schema.types.common import Node, PageInfo
from stepwise.schema.types.enums import IssueCommentActionType, IssueKindType, IssueStatusType


@strawberry.type(description="A rectangle of an asset, in pixels from its top-left corner.")
class Zone:
    x: float = strawberry.field(description="Pixels from the left edge to the zone's left side.")
    y: float = strawberry.field(description="Pixels from the top edge to the zone's top side.")
    width: float = strawberry.field(description="The zone's width in pixels (positive).")
    height: float = strawberry.field(description="The zone's height in pixels (positive).")


@strawberry.type(description="One message of an issue's thread.")
class IssueComment:
    id: strawberry.ID = strawberry.field(description="The comment's opaque ID.")
    author: User = strawberry.field(description="Who wrote it.")
    body: str = strawberry.field(description="The text; may be empty for RESOLVED and REOPENED comments.")
    action: IssueCommentActionType = strawberry.field(description="What the comment did to the issue.")
    created_at: datetime = strawberry.field(description="When it was written.")


@strawberry.type(
    description="A problem raised on an asset, on a zone or the whole image; an OPEN one blocks the last submit."
)
class Issue(Node):
    asset: Asset = strawberry.field(description="The asset the issue is about.")
    kind: IssueKindType = strawberry.field(description="Whether it points at a zone or at the whole image.")
    status: IssueStatusType = strawberry.field(description="Whether it still needs attention.")
    zone: Zone | None = strawberry.field(description="Set for ZONE issues only.")
    author: User = strawberry.field(description="Who raised it.")
    step: Step | None = strawberry.field(description="The step the asset was at when the issue was raised.")
    created_at: datetime = strawberry.field(description="When it was raised.")
    resolved_at: datetime | None = strawberry.field(description="When it was last resolved; null while OPEN.")
    resolved_by: User | None = strawberry.field(description="Who resolved it last; null while OPEN.")
    comments: list[IssueComment] = strawberry.field(
        description="The thread, oldest first; the first comment is the issue's description."
    )


@strawberry.type(description="An issue in a page, with its cursor.")
class IssueEdge:
    cursor: str = strawberry.field(description="Pass it as `after` to continue after this issue.")
    node: Issue = strawberry.field(description="The issue.")


@strawberry.type(description="A page of a campaign's issues.")
class IssueConnection:
    edges: list[IssueEdge] = strawberry.field(description="The issues of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the whole list.")
    total_count: int = strawberry.field(description="How many issues match the filter, over all pages.")
