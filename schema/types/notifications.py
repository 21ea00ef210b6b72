"""Notifications: campaign deadlines and completions, sent to the campaign's managers."""

from __future__ import annotations

from datetime import datetime

import strawberry

from stepwise.models.db.campaigns import Campaign as CampaignModel
from stepwise.models.db.notifications import Notification as NotificationModel
from stepwise.resolvers.fields.common import row_by_id
from stepwise.schema.context import Info
from stepwise.schema.ids import encode_id
from stepwise.schema.types.campaigns import Campaign
from stepwise.schema.types.common import Deferred, Node
from stepwise.schema.types.enums import NotificationKind


@strawberry.type(description="A message to a campaign's manager: the campaign is due soon, overdue or completed.")
class Notification(Node):
    kind: NotificationKind = strawberry.field(description="Why it was sent.")
    campaign: Campaign = strawberry.field(description="The campaign it is about.")
    created_at: datetime = strawberry.field(description="When it was sent.")
    read: bool = strawberry.field(description="Whether the viewer marked it read (markNotificationsRead).")

    @classmethod
    def from_row(cls, row: NotificationModel, info: Info) -> Notification:
        return cls(
            id=encode_id("Notification", row.id), kind=row.kind, created_at=row.created_at, read=row.read,
            campaign=Deferred(row_by_id, info, CampaignModel, row.campaign_id, then=Campaign.from_row),
        )
