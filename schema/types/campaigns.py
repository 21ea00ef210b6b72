"""Annotation campaigns: the workflow of steps, settings, tasks and progress."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from stepwise.downloads import instructions_url
from stepwise.models import clock
from stepwise.models.db import campaigns as db
from stepwise.models.db.datasets import DatasetVersion as DatasetVersionModel
from stepwise.models.queries.issues import IssueCriteria
from stepwise.models.queries.tasks import Progress, TaskCriteria
from stepwise.models.workflow import displayed_status
from stepwise.permissions.graphql import guard
from stepwise.resolvers.fields.analytics import analytics_source
from stepwise.resolvers.fields.campaigns import (
    campaign_instructions,
    campaign_progress_rows,
    campaign_steps,
    step_assignees,
)
from stepwise.resolvers.fields.common import row_by_id
from stepwise.resolvers.fields.event_log import campaign_event_position
from stepwise.resolvers.fields.issues import campaign_issue_page
from stepwise.resolvers.fields.tasks import campaign_task_page
from stepwise.schema.campaign_inputs import DateRangeInput, IssueFilter, TaskFilter
from stepwise.schema.event_cursors import campaign_cursor
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id, encode_id
from stepwise.schema.pagination import decode_cursor, page_size
from stepwise.schema.prefetch import node_fields
from stepwise.schema.types.accounts import User, users_or_none
from stepwise.schema.types.common import Node
from stepwise.schema.types.datasets import DatasetVersion
from stepwise.schema.types.enums import (
    AttributionPolicy,
    CampaignStatus,
    GranularityType,
    NewAssetPolicy,
    PreexistingStrategy,
    StepType,
    TaskStatus,
)

if TYPE_CHECKING:
    from stepwise.schema.types.analytics import CampaignAnalytics
    from stepwise.schema.types.issues import IssueConnection
    from stepwise.schema.types.tasks import TaskConnection

TaskConnectionRef = Annotated["TaskConnection", strawberry.lazy("stepwise.schema.types.tasks")]
IssueConnectionRef = Annotated["IssueConnection", strawberry.lazy("stepwise.schema.types.issues")]
AnalyticsRef = Annotated["CampaignAnalytics", strawberry.lazy("stepwise.schema.types.analytics")]

FIRST = "Page size, 0 to 500 (default 100); more than 500 is BAD_REQUEST."
AFTER = "An `endCursor` of a previous page, to continue after it."


@strawberry.type(description="The PDF of instructions that workers of a campaign read before they start.")
class Instructions:
    filename: str = strawberry.field(
        description="The uploaded file's name as sent, without directories or control characters, at most 200 characters."
    )
    size: int = strawberry.field(description="The file's size in bytes.")
    url: str = strawberry.field(
        description="Where an authorized worker downloads the PDF (same credentials as the API): a path on the "
        "server of /graphql, `/files/instructions/<campaign ID>`, answered with the PDF as an attachment to any "
        "worker of the dataset and 404 to anyone else."
    )
    uploaded_at: datetime = strawberry.field(description="When this file was uploaded; a new upload replaces it.")


@strawberry.type(description="One stage of a campaign's workflow, with the workers who take its tasks.")
class Step(Node):
    row: strawberry.Private[db.Step]
    name: str = strawberry.field(description='The step\'s name, shown to workers (e.g. "Annotate", "Review").')
    type: StepType = strawberry.field(
        description="What the step asks for: drawing (ANNOTATION) or checking (REVIEW). Fixed after launch."
    )
    position: int = strawberry.field(description="0-based place in the workflow. Fixed after launch.")

    @classmethod
    def from_row(cls, row: db.Step) -> Step:
        return cls(id=encode_id("Step", row.id), row=row, name=row.name, type=row.type,
                   position=row.position)

    @strawberry.field(description="The workers who take tasks at this step, in attribution order; all are dataset workers.")
    async def assignees(self, info: Info) -> list[User]:
        return users_or_none(await step_assignees(info, self.row.id))


def step_or_none(row: db.Step | None) -> Step | None:
    """The Step of a row fetched by id (resolvers/fields/common.py), None when there is none."""
    return Step.from_row(row) if row else None


@strawberry.type(description="How many active tasks wait at one workflow step.")
class StepCount:
    step: Step = strawberry.field(description="The workflow step.")
    count: int = strawberry.field(description="Active (IN_PROGRESS or TO_REWORK) tasks at this step.")


@strawberry.type(description="Task counters of a campaign and how far its workflow has come.")
class CampaignProgress:
    total_tasks: int = strawberry.field(description="Every task of the campaign, whatever its status.")
    in_progress: int = strawberry.field(description="Tasks with status IN_PROGRESS.")
    to_rework: int = strawberry.field(description="Tasks with status TO_REWORK.")
    done: int = strawberry.field(description="Tasks with status DONE.")
    skipped: int = strawberry.field(description="Tasks with status SKIPPED.")
    percent: float = strawberry.field(
        description="Step submissions made / (made + still needed), in percent, 0 to 100; see RULES.md."
    )
    by_step: list[StepCount] = strawberry.field(
        description="Active (IN_PROGRESS or TO_REWORK) tasks per step, in workflow order."
    )


async def progress_of(info: Info, campaign: db.Campaign) -> CampaignProgress:
    """For root resolvers (subscriptions): the campaign's progress, fetched and wrapped."""
    return progress_from(*await campaign_progress_rows(info, campaign))


def progress_from(steps: list[db.Step], counts: Progress) -> CampaignProgress:
    return CampaignProgress(
        total_tasks=counts.total,
        in_progress=counts.by_status.get(TaskStatus.IN_PROGRESS, 0),
        to_rework=counts.by_status.get(TaskStatus.TO_REWORK, 0),
        done=counts.by_status.get(TaskStatus.DONE, 0),
        skipped=counts.by_status.get(TaskStatus.SKIPPED, 0),
        percent=counts.percent,
        by_step=[StepCount(step=Step.from_row(s), count=counts.active_by_step.get(s.id, 0)) for s in steps],
    )


def _task_criteria(task_filter: TaskFilter | None) -> TaskCriteria:
    if task_filter is None:
        return TaskCriteria()
    return TaskCriteria(
        statuses=tuple(task_filter.status) if task_filter.status else None,
        step_id=decode_id(task_filter.step_id, "Step") if task_filter.step_id else None,
        assignee_id=decode_id(task_filter.assignee_id, "User") if task_filter.assignee_id else None,
    )


def _issue_criteria(issue_filter: IssueFilter | None) -> IssueCriteria:
    if issue_filter is None:
        return IssueCriteria()
    return IssueCriteria(
        status=issue_filter.status,
        kind=issue_filter.kind,
        asset_id=decode_id(issue_filter.asset_id, "Asset") if issue_filter.asset_id else None,
    )


@strawberry.type(
    description="The annotation campaign of a dataset version: a workflow of steps every asset's task goes through."
)
class Campaign(Node):
    row: strawberry.Private[db.Campaign]
    # The log position `campaign(id:)` read before its data, for eventCursor (None: read it then).
    event_position: strawberry.Private[int | None] = None

    @classmethod
    def from_row(cls, row: db.Campaign, event_position: int | None = None) -> Campaign:
        return cls(id=encode_id("Campaign", row.id), row=row, event_position=event_position)

    async def scope(self, info: Info) -> tuple[int, int | None]:
        return self.row.organization_id, self.row.dataset_id

    @strawberry.field(description="The version whose assets the campaign annotates.")
    async def dataset_version(self, info: Info) -> DatasetVersion:
        return DatasetVersion.from_row(await row_by_id(info, DatasetVersionModel, self.row.version_id))

    @strawberry.field(description="Where the campaign is in its life (OVERDUE: ONGOING past its due date).")
    def status(self) -> CampaignStatus:
        return displayed_status(self.row.status, self.row.due_date, clock.now())

    @strawberry.field(description="The workflow, ordered by position.")
    async def steps(self, info: Info) -> list[Step]:
        return [Step.from_row(s) for s in await campaign_steps(info, self.row.id)]

    @strawberry.field(description="Whether assets added to the version while the campaign runs get tasks.")
    def new_asset_policy(self) -> NewAssetPolicy:
        return self.row.new_asset_policy

    @strawberry.field(description="How a task entering a step is given to one of the step's assignees.")
    def attribution_policy(self) -> AttributionPolicy:
        return self.row.attribution_policy

    @strawberry.field(description="Where an asset that already has an annotation starts. Fixed after launch.")
    def preexisting_annotation_strategy(self) -> PreexistingStrategy:
        return self.row.preexisting_strategy

    @strawberry.field(description="When the campaign should be finished; past it with tasks open, the status is OVERDUE.")
    def due_date(self) -> datetime | None:
        return self.row.due_date

    @strawberry.field(
        description="When true, new assets stop getting tasks once every task created at launch is DONE or SKIPPED."
    )
    def close_to_new_assets_when_initial_tasks_done(self) -> bool:
        return self.row.close_to_new_assets

    @strawberry.field(description="The workers' PDF instructions; null until uploaded.")
    async def instructions(self, info: Info) -> Instructions | None:
        row = await campaign_instructions(info, self.row.id)
        if row is None:
            return None
        root_path = getattr(info.context.request, "scope", {}).get("root_path", "")
        return Instructions(filename=row.filename, size=row.size, url=instructions_url(self.id, root_path),
                            uploaded_at=row.uploaded_at)

    @strawberry.field(description="When the campaign was created (as a DRAFT).")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When the campaign was launched; null while DRAFT.")
    def launched_at(self) -> datetime | None:
        return self.row.launched_at

    @strawberry.field(description="When every task last became DONE or SKIPPED; null unless COMPLETED.")
    def completed_at(self) -> datetime | None:
        return self.row.completed_at

    @strawberry.field(
        description="All tasks of the campaign, oldest first, a page at a time. Not for LABELER workers (FORBIDDEN).",
        permission_classes=guard("Campaign.tasks"),
    )
    async def tasks(
        self,
        info: Info,
        filter: Annotated[
            TaskFilter | None, strawberry.argument(description="Only tasks matching every given criterion.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> TaskConnectionRef:
        from stepwise.schema.types.tasks import task_connection

        criteria = _task_criteria(filter)
        page = await campaign_task_page(info, self.row.id, criteria, page_size(first), decode_cursor(after),
                                        node_fields(info))
        return task_connection(info, self.row.id, criteria, after, page)

    @strawberry.field(
        description="Issues raised on the campaign's assets, oldest first, a page at a time. "
        "Not for LABELER workers (FORBIDDEN; see myIssues).",
        permission_classes=guard("Campaign.issues"),
    )
    async def issues(
        self,
        filter: Annotated[
            IssueFilter | None, strawberry.argument(description="Only issues matching every given criterion.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> IssueConnectionRef:
        from stepwise.schema.types.issues import issue_connection

        criteria = _issue_criteria(filter)
        rows, has_next = await campaign_issue_page(self.row.id, criteria, page_size(first), decode_cursor(after))
        return issue_connection(self.row.id, criteria, after, rows, has_next)

    @strawberry.field(
        description="The position of the campaign's latest event, read before the rest of this query's data "
        "(under `campaign(id:)`): subscribe to taskUpdates or issueUpdates with `after: eventCursor` to receive "
        "every later change, none missed (a change that the query's data already shows may come again; "
        "compare `version`).",
        permission_classes=guard("Campaign.eventCursor"),
    )
    async def event_cursor(self, info: Info) -> str:
        return campaign_cursor(self.row.id, await campaign_event_position(self.row.id, self.event_position))

    @strawberry.field(
        description="Task counters and overall completion. Not for LABELER workers (FORBIDDEN).",
        permission_classes=guard("Campaign.progress"),
    )
    async def progress(self, info: Info) -> CampaignProgress:
        return progress_from(*await campaign_progress_rows(info, self.row))

    @strawberry.field(
        description="Throughput, efficiency and quality figures. Not for LABELER workers (FORBIDDEN).",
        permission_classes=guard("Campaign.analytics"),
    )
    async def analytics(
        self,
        info: Info,
        date_range: Annotated[
            DateRangeInput | None,
            strawberry.argument(name="range", description="Only what happened in this period; all time when omitted."),
        ] = None,
        step_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only work done at this step of the campaign.")
        ] = None,
        assignee_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only work done by this worker (a User ID).")
        ] = None,
        granularity: Annotated[
            GranularityType | None,
            strawberry.argument(description="The width of time buckets, aligned to UTC; DAY when null."),
        ] = GranularityType.DAY,
    ) -> AnalyticsRef:
        from stepwise.schema.types.analytics import CampaignAnalytics

        return CampaignAnalytics(source=await analytics_source(info, self.row, date_range, step_id, assignee_id,
                                                               granularity))
