"""Channel names on the bus. Every event of a campaign's log (task and issue events, ranges of
CREATED) goes to the campaign's channel and to its organization's (for myTaskUpdates): a
subscriber sees every seq of the logs it follows, so a missing one means it is behind. Each
user has a channel for their notifications; revoked tokens have one for every process."""

from __future__ import annotations

from stepwise.models.events import IssueChanged, NotificationSent, TaskChanged, TasksCreated, TokenRevoked


def campaign_events(campaign_id: int) -> str:
    return f"campaign.{campaign_id}.events"


def organization_events(organization_id: int) -> str:
    return f"organization.{organization_id}.events"


def user_notifications(user_id: int) -> str:
    return f"user.{user_id}.notifications"


REVOKED_TOKENS = "sessions.revoked"


def channels_for(event: TaskChanged | IssueChanged | TasksCreated | NotificationSent | TokenRevoked) -> list[str]:
    if isinstance(event, NotificationSent):
        return [user_notifications(event.user_id)]
    if isinstance(event, TokenRevoked):
        return [REVOKED_TOKENS]
    return [campaign_events(event.campaign_id), organization_events(event.organization_id)]
