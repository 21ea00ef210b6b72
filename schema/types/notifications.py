"""Notifications: campaign deadlines and completions, sent to the campaign's managers.

Part of the contract, not served in this release.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from stepwise.schema.types.campaigns import Campaign
from stepwise.schema.types.common import Node
from stepwise.schema.types.enums import NotificationKindType


@strawberry.type(description="A message to a campaign's manager: the campaign is due soon, overdue or completed.")
class Notification(Node):
    kind: NotificationKindType = strawberry.field(description="Why it was sent.")
    campaign: Campaign = strawberry.field(description="The campaign it is about.")
    created_at: datetime = strawberry.field(description="When it was sent.")
    read: bool = strawberry.field(description="Whether the viewer marked it read (markNotificationsRead).")
