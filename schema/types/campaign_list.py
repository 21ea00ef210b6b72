"""An organization's campaigns, a page at a time (Organization.campaigns)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from stepwise.models.workflow import CampaignStatus
from stepwise.resolvers.fields.accounts import organization_campaigns_total
from stepwise.schema.context import Info
from stepwise.schema.pagination import encode_cursor
from stepwise.schema.types.campaigns import Campaign
from stepwise.schema.types.common import PageInfo, page_info


@strawberry.type(description="A campaign in a page, with its cursor.")
class CampaignEdge:
    cursor: str = strawberry.field(description="Pass it as `after` to continue after this campaign.")
    node: Campaign = strawberry.field(description="The campaign.")


@strawberry.type(description="A page of an organization's campaigns, newest first.")
class CampaignConnection:
    edges: list[CampaignEdge] = strawberry.field(description="The campaigns of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the whole list.")
    organization_id: strawberry.Private[int]
    status: strawberry.Private[CampaignStatus | None]
    now: strawberry.Private[datetime]

    @strawberry.field(description="How many campaigns match the filter, over all pages.")
    async def total_count(self, info: Info) -> int:
        return await organization_campaigns_total(info, self.organization_id, self.status, self.now)


def campaign_connection(organization_id: int, status: CampaignStatus | None, now: datetime, after: str | None,
                        rows: list, has_next: bool) -> CampaignConnection:
    """The connection of a page of campaign rows (resolvers/fields/accounts.py organization_campaigns)."""
    edges = [CampaignEdge(cursor=encode_cursor(row.id), node=Campaign.from_row(row)) for row in rows]
    return CampaignConnection(edges=edges, page_info=page_info(edges, has_next, after),
                              organization_id=organization_id, status=status, now=now)
