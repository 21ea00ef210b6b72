"""Campaign analytics: throughput, efficiency and quality figures, counted in the database
(models/queries/analytics.py and quality.py); schema/analytics_build.py fills these types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from stepwise.schema.context import Info
from stepwise.schema.types.accounts import User
from stepwise.schema.types.campaigns import CampaignProgress, StepCount
from stepwise.schema.types.datasets import Label
from stepwise.schema.types.enums import IssueKindType


@strawberry.type(description="A count for one worker.")
class WorkerCount:
    user: User = strawberry.field(description="The worker.")
    count: int = strawberry.field(description="The count for this worker.")


@strawberry.type(description="How many things happened in one time bucket.")
class TimeBucket:
    start: datetime = strawberry.field(description="The bucket's start, aligned to UTC at the requested granularity.")
    count: int = strawberry.field(description="How many happened in the bucket; 0 for an empty bucket.")


@strawberry.type(description="Step visits completed in one time bucket and the time they took.")
class DurationBucket:
    start: datetime = strawberry.field(description="The bucket's start, aligned to UTC at the requested granularity.")
    count: int = strawberry.field(description="Step visits completed in the bucket.")
    total_seconds: float = strawberry.field(description="Their summed duration, in seconds.")
    average_seconds: float | None = strawberry.field(
        description="Their mean duration in seconds; null when count is 0."
    )


@strawberry.type(
    description="Durations of step visits: `activeSeconds` when the client sent it, else from start (or entry) "
    "to submission."
)
class DurationStats:
    count: int = strawberry.field(description="How many step visits were measured.")
    total_seconds: float = strawberry.field(description="Their summed duration, in seconds.")
    average_seconds: float | None = strawberry.field(description="Mean duration in seconds; null when count is 0.")
    min_seconds: float | None = strawberry.field(description="Shortest duration in seconds; null when count is 0.")
    max_seconds: float | None = strawberry.field(description="Longest duration in seconds; null when count is 0.")
    # The analytics source and which durations ("ALL", "ANNOTATION", "REVIEW"): the percentiles
    # sort every duration, so they are computed only when selected (once for all three).
    source: strawberry.Private[Any]
    group: strawberry.Private[str]

    @strawberry.field(
        description="Median duration in seconds (nearest rank: a measured value); null when count is 0."
    )
    async def p50_seconds(self) -> float | None:
        return (await self.source.percentiles()).get(self.group, (None, None))[0]

    @strawberry.field(
        description="95th percentile duration in seconds (nearest rank: a measured value); null when count is 0."
    )
    async def p95_seconds(self) -> float | None:
        return (await self.source.percentiles()).get(self.group, (None, None))[1]


@strawberry.type(description="How many issues of one kind were raised.")
class IssueKindCount:
    kind: IssueKindType = strawberry.field(description="The issue kind.")
    count: int = strawberry.field(description="Issues of this kind.")


@strawberry.type(description="How many shapes carry one label.")
class LabelCount:
    label: Label = strawberry.field(description="The label.")
    count: int = strawberry.field(description="Shapes with this label.")


@strawberry.type(description="One bin of a histogram: the values from `lower` to `upper`.")
class HistogramBin:
    lower: float = strawberry.field(description="The bin's lower bound (inclusive).")
    upper: float = strawberry.field(description="The bin's upper bound (exclusive, inclusive for the last bin).")
    count: int = strawberry.field(description="How many values fall in the bin.")


@strawberry.type(description="How much work flows through the campaign.")
class Throughput:
    progress: CampaignProgress = strawberry.field(description="The campaign's task counters and completion.")
    tasks_by_step: list[StepCount] = strawberry.field(description="Active tasks per step.")
    annotation_submissions: list[TimeBucket] = strawberry.field(
        description="Submissions at ANNOTATION steps, per time bucket."
    )
    review_submissions: list[TimeBucket] = strawberry.field(description="Submissions at REVIEW steps, per time bucket.")
    assignments_by_worker: list[WorkerCount] = strawberry.field(description="Active tasks per assignee.")
    issues_created: list[TimeBucket] = strawberry.field(description="Issues raised, per time bucket.")
    issues_by_kind: list[IssueKindCount] = strawberry.field(description="Issues raised, per kind.")


@strawberry.type(description="How long the work takes and how many issues it raises and settles.")
class Efficiency:
    task_duration: DurationStats = strawberry.field(
        description="All step completions (submit, rework, skip) in range."
    )
    issues_opened: int = strawberry.field(description="Issues raised in range.")
    issues_closed: int = strawberry.field(description="Issues resolved in range.")
    annotation: DurationStats = strawberry.field(description="Time spent per visit at ANNOTATION steps.")
    review: DurationStats = strawberry.field(description="Time spent per visit at REVIEW steps.")
    annotation_time: list[DurationBucket] = strawberry.field(
        description="Time spent at ANNOTATION steps, per time bucket."
    )
    review_time: list[DurationBucket] = strawberry.field(description="Time spent at REVIEW steps, per time bucket.")


@strawberry.type(
    description="What the current annotations contain; histograms divide the observed range in equal bins."
)
class Quality:
    shapes_by_label: list[LabelCount] = strawberry.field(description="Shapes per label.")
    assets_by_shape_count: list[HistogramBin] = strawberry.field(
        description="Histogram of assets by how many shapes their annotation has."
    )
    shape_areas: list[HistogramBin] = strawberry.field(
        description="Histogram of shape areas in square pixels (RECTANGLE and POLYGON shapes)."
    )
    asset_areas: list[HistogramBin] = strawberry.field(
        description="Histogram of asset areas (width × height) in square pixels."
    )


@strawberry.type(description="A campaign's analytics, narrowed by the arguments of `Campaign.analytics`.")
class CampaignAnalytics:
    # The campaign and the arguments (schema/analytics_build.py): each part is counted when selected.
    source: strawberry.Private[Any]

    @strawberry.field(description="How much work flows through the campaign.")
    async def throughput(self, info: Info) -> Throughput:
        return await self.source.throughput(info)

    @strawberry.field(description="How long the work takes.")
    async def efficiency(self) -> Efficiency:
        return await self.source.efficiency()

    @strawberry.field(
        description="What the campaign's accepted annotations contain (those of its dataset version); "
        "`range`, `stepId` and `assigneeId` do not narrow it."
    )
    async def quality(
        self, info: Info,
        bins: Annotated[int | None, strawberry.argument(description="How many histogram bins, 1 to 100.")] = 10,
    ) -> Quality:
        from stepwise.schema.analytics_build import quality_of

        return await quality_of(info, self.source.campaign.version_id, bins)
