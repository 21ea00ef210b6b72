"""Subscription events: one per task transition or issue change, sent after the change committed."""

from __future__ import annotations

from datetime import datetime

import strawberry

from stepwise.schema.types.accounts import User
from stepwise.schema.types.enums import EventKind, IssueUpdateKindType
from stepwise.schema.types.issues import Issue
from stepwise.schema.types.tasks import Task


@strawberry.type(description="A task changed: one event per transition, sent after the change committed.")
class TaskUpdate:
    kind: EventKind = strawberry.field(description="What happened to the task.")
    task: Task = strawberry.field(description="The task as it is after the change.")
    actor: User | None = strawberry.field(description="Who made the change; null when the server did.")
    at: datetime = strawberry.field(description="When it happened.")
    cursor: str = strawberry.field(description="This update's position in the campaign's event log (in the "
                                   "organization's logs for myTaskUpdates). Pass it as `after` to resume the stream "
                                   "after it, with no update missed or repeated.")


@strawberry.type(description="An issue was raised, answered, resolved or re-opened.")
class IssueUpdate:
    kind: IssueUpdateKindType = strawberry.field(description="What happened to the issue.")
    issue: Issue = strawberry.field(description="The issue as it is after the change.")
    actor: User | None = strawberry.field(description="Who made the change.")
    at: datetime = strawberry.field(description="When it happened.")
    cursor: str = strawberry.field(description="This update's position in the campaign's event log. Pass it as "
                                   "`after` to resume the stream after it, with no update missed or repeated.")
