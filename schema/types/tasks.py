"""Tasks: one asset's journey through a campaign's workflow, with its history and events.

Part of the contract, not served in this release (no campaign can be launched yet).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from stepwise.models.errors import NotAvailableYet
from stepwise.schema.types.accounts import User
from stepwise.schema.types.assets import Annotation, Asset
from stepwise.schema.types.campaigns import Campaign, Step
from stepwise.schema.types.common import Node, PageInfo
from stepwise.schema.types.datasets import DatasetVersion
from stepwise.schema.types.enums import IssueStatusType, StepStateType, TaskEventKindType, TaskStatusType

if TYPE_CHECKING:
    from stepwise.schema.types.issues import Issue

IssueRef = Annotated["Issue", strawberry.lazy("stepwise.schema.types.issues")]


@strawberry.type(description="One workflow step as seen from a task: done, current or upcoming.")
class StepHistoryEntry:
    step: Step = strawberry.field(description="The workflow step.")
    state: StepStateType = strawberry.field(
        description="Whether the task left this step, is at it, or has yet to reach it."
    )
    assignee: User | None = strawberry.field(
        description="Who submitted this step last (DONE), holds it (CURRENT), or null (UPCOMING)."
    )
    submitted_at: datetime | None = strawberry.field(
        description="When this step was last submitted; null unless DONE."
    )
    annotation: Annotation | None = strawberry.field(
        description="The annotation as submitted at this step, last time it was submitted; null unless DONE."
    )


@strawberry.type(description="One transition of a task, as written in its audit trail.")
class TaskEvent:
    kind: TaskEventKindType = strawberry.field(description="What happened.")
    step: Step | None = strawberry.field(
        description="The step the task was at when this happened; null if it was DONE or SKIPPED already."
    )
    actor: User | None = strawberry.field(description="Who did it; null when the server did (e.g. at launch).")
    assignee: User | None = strawberry.field(description="The assignee after this event; null once DONE or SKIPPED.")
    at: datetime = strawberry.field(description="When it happened.")


@strawberry.type(description="The work on one asset in a campaign, moving through the workflow step by step.")
class Task(Node):
    campaign: Campaign = strawberry.field(description="The campaign the task belongs to.")
    asset: Asset = strawberry.field(description="The asset to annotate or review.")
    status: TaskStatusType = strawberry.field(description="Where the task is in the workflow.")
    step: Step | None = strawberry.field(description="The current step; null once DONE or SKIPPED.")
    assignee: User | None = strawberry.field(
        description="The current assignee, the only one who may act on the task; null once DONE or SKIPPED."
    )
    version: int = strawberry.field(
        description="Incremented by every change; pass it as expectedVersion to detect concurrent edits."
    )
    created_at: datetime = strawberry.field(description="When the task was created (at launch or for a new asset).")
    updated_at: datetime = strawberry.field(description="When the task last changed.")
    annotation: Annotation | None = strawberry.field(
        description="The working annotation of this task: saved drafts, or what the previous step submitted."
    )
    open_issue_count: int = strawberry.field(description="How many OPEN issues the task's asset has.")
    history: list[StepHistoryEntry] = strawberry.field(description="One entry per workflow step, in workflow order.")
    events: list[TaskEvent] = strawberry.field(description="Every transition of the task, oldest first.")

    @strawberry.field(description="Issues raised on the task's asset, oldest first, optionally by status.")
    def issues(
        self,
        status: Annotated[
            IssueStatusType | None, strawberry.argument(description="Only issues in this status; all when omitted.")
        ] = None,
    ) -> list[IssueRef]:
        raise NotAvailableYet("Task.issues")


@strawberry.type(description="A task in a page, with its cursor.")
class TaskEdge:
    cursor: str = strawberry.field(description="Pass it as `after` to continue after this task.")
    node: Task = strawberry.field(description="The task.")


@strawberry.type(description="A page of a campaign's tasks.")
class TaskConnection:
    edges: list[TaskEdge] = strawberry.field(description="The tasks of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the whole list.")
    total_count: int = strawberry.field(description="How many tasks match the filter, over all pages.")


@strawberry.type(description="The viewer's own active tasks in one campaign.")
class MyTaskGroup:
    campaign: Campaign = strawberry.field(description="The campaign of these tasks.")
    dataset_version: DatasetVersion = strawberry.field(description="The dataset version the campaign annotates.")
    tasks: list[Task] = strawberry.field(
        description="The viewer's IN_PROGRESS and TO_REWORK tasks in this campaign, oldest first."
    )
