"""Payloads of the campaign, task, issue and notification mutations.

When `errors` is not empty, nothing was changed and the object fields are null (or empty lists).
"""

from __future__ import annotations

import strawberry

from stepwise.schema.types.campaigns import Campaign, Step
from stepwise.schema.types.common import UserError
from stepwise.schema.types.issues import Issue
from stepwise.schema.types.notifications import Notification
from stepwise.schema.types.tasks import Task

ERRORS = "Why the change was refused; empty on success."


@strawberry.type(description="The result of a campaign mutation.")
class CampaignPayload:
    campaign: Campaign | None = strawberry.field(default=None, description="The campaign after the change.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of a step mutation.")
class StepPayload:
    step: Step | None = strawberry.field(
        default=None, description="The step after the change; null after removeStep."
    )
    campaign: Campaign | None = strawberry.field(
        default=None, description="The campaign, with its workflow as it is after the change."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of a task transition.")
class TaskPayload:
    task: Task | None = strawberry.field(default=None, description="The task after the change.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of a bulk reassignment: all tasks changed, or none.")
class TasksPayload:
    tasks: list[Task] = strawberry.field(
        default_factory=list, description="The reassigned tasks; empty when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of an issue mutation.")
class IssuePayload:
    issue: Issue | None = strawberry.field(default=None, description="The issue after the change.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of marking notifications read.")
class NotificationsPayload:
    notifications: list[Notification] = strawberry.field(
        default_factory=list, description="The notifications now marked read; empty when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)
