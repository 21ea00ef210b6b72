"""Channel names on the bus. One channel per campaign for task and issue events, one per organization
for the viewer-centred subscriptions, one per user for their notifications; subscribers filter
what each viewer may see."""

from __future__ import annotations

from stepwise.models.events import IssueChanged, NotificationSent, TaskChanged


def campaign_tasks(campaign_id: int) -> str:
    return f"campaign.{campaign_id}.tasks"


def campaign_issues(campaign_id: int) -> str:
    return f"campaign.{campaign_id}.issues"


def organization_tasks(organization_id: int) -> str:
    return f"organization.{organization_id}.tasks"


def user_notifications(user_id: int) -> str:
    return f"user.{user_id}.notifications"


def channels_for(event: TaskChanged | IssueChanged | NotificationSent) -> list[str]:
    if isinstance(event, NotificationSent):
        return [user_notifications(event.user_id)]
    if isinstance(event, TaskChanged):
        return [campaign_tasks(event.campaign_id), organization_tasks(event.organization_id)]
    return [campaign_issues(event.campaign_id)]
