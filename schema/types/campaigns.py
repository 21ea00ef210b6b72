"""Annotation campaigns: the workflow of steps, the instructions and the progress counters.

Campaigns are part of the contract but not served in this release: no campaign can be created
yet, so these types never resolve; fields that take arguments answer NOT_IMPLEMENTED.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from stepwise.models.errors import NotAvailableYet
from stepwise.schema.campaign_inputs import DateRangeInput, IssueFilter, TaskFilter
from stepwise.schema.types.accounts import User
from stepwise.schema.types.common import Node
from stepwise.schema.types.datasets import DatasetVersion
from stepwise.schema.types.enums import (
    AttributionPolicyType,
    CampaignStatusType,
    GranularityType,
    NewAssetPolicyType,
    PreexistingAnnotationStrategyType,
    StepTypeType,
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
    filename: str = strawberry.field(description="The uploaded file's name.")
    size: int = strawberry.field(description="The file's size in bytes.")
    url: str = strawberry.field(
        description="Where an authorized worker downloads the PDF (same credentials as the API)."
    )
    uploaded_at: datetime = strawberry.field(description="When this file was uploaded; a new upload replaces it.")


@strawberry.type(description="One stage of a campaign's workflow, with the workers who take its tasks.")
class Step(Node):
    name: str = strawberry.field(description="The step's name, shown to workers (e.g. \"Annotate\", \"Review\").")
    type: StepTypeType = strawberry.field(
        description="What the step asks for: drawing (ANNOTATION) or checking (REVIEW). Fixed after launch."
    )
    position: int = strawberry.field(description="0-based place in the workflow. Fixed after launch.")
    assignees: list[User] = strawberry.field(
        description="The workers who take tasks at this step, in attribution order; all are dataset workers."
    )


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


@strawberry.type(
    description="The annotation campaign of a dataset version: a workflow of steps every asset's task goes through."
)
class Campaign(Node):
    dataset_version: DatasetVersion = strawberry.field(description="The version whose assets the campaign annotates.")
    status: CampaignStatusType = strawberry.field(description="Where the campaign is in its life.")
    steps: list[Step] = strawberry.field(description="The workflow, ordered by position.")
    new_asset_policy: NewAssetPolicyType = strawberry.field(
        description="Whether assets added to the version while the campaign runs get tasks."
    )
    attribution_policy: AttributionPolicyType = strawberry.field(
        description="How a task entering a step is given to one of the step's assignees."
    )
    preexisting_annotation_strategy: PreexistingAnnotationStrategyType = strawberry.field(
        description="Where an asset that already has an annotation starts. Fixed after launch."
    )
    due_date: datetime | None = strawberry.field(
        description="When the campaign should be finished; past it with tasks open, the status is OVERDUE."
    )
    close_to_new_assets_when_initial_tasks_done: bool = strawberry.field(
        description="When true, new assets stop getting tasks once every task created at launch is DONE or SKIPPED."
    )
    instructions: Instructions | None = strawberry.field(
        description="The workers' PDF instructions; null until uploaded. Readable by every worker, LABELERs included."
    )
    created_at: datetime = strawberry.field(description="When the campaign was created (as a DRAFT).")
    launched_at: datetime | None = strawberry.field(description="When the campaign was launched; null while DRAFT.")
    completed_at: datetime | None = strawberry.field(
        description="When every task last became DONE or SKIPPED; null unless COMPLETED."
    )
    progress: CampaignProgress = strawberry.field(description="Task counters and overall completion.")

    @strawberry.field(description="All tasks of the campaign, a page at a time. Not for LABELER workers.")
    def tasks(
        self,
        filter: Annotated[
            TaskFilter | None, strawberry.argument(description="Only tasks matching every given criterion.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> TaskConnectionRef:
        raise NotAvailableYet("Campaign.tasks")

    @strawberry.field(
        description="Issues raised on the campaign's assets, a page at a time. Not for LABELER workers (see myIssues)."
    )
    def issues(
        self,
        filter: Annotated[
            IssueFilter | None, strawberry.argument(description="Only issues matching every given criterion.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> IssueConnectionRef:
        raise NotAvailableYet("Campaign.issues")

    @strawberry.field(description="Throughput, efficiency and quality figures. Not for LABELER workers.")
    def analytics(
        self,
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
        raise NotAvailableYet("Campaign.analytics")
