"""Campaign analytics: throughput, efficiency and quality figures, counted in the database
(models/queries/analytics.py and quality.py) and fetched by resolvers/fields/analytics.py;
these types wrap the figures, filling in the empty buckets of a series from the bucket list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from stepwise.models.db.issues import IssueKind
from stepwise.models.queries.analytics import as_datetime
from stepwise.models.workflow import StepType
from stepwise.resolvers.fields.analytics import (
    duration_percentiles,
    efficiency_figures,
    quality_figures,
    throughput_figures,
)
from stepwise.schema.context import Info
from stepwise.schema.types.accounts import User
from stepwise.schema.types.campaigns import CampaignProgress, Step, StepCount, progress_from
from stepwise.schema.types.datasets import Label


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
        return (await duration_percentiles(self.source, self.group))[0]

    @strawberry.field(
        description="95th percentile duration in seconds (nearest rank: a measured value); null when count is 0."
    )
    async def p95_seconds(self) -> float | None:
        return (await duration_percentiles(self.source, self.group))[1]


@strawberry.type(description="How many issues of one kind were raised.")
class IssueKindCount:
    kind: IssueKind = strawberry.field(description="The issue kind.")
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
    # The campaign and the arguments (resolvers/fields/analytics.py): each part is counted when selected.
    source: strawberry.Private[Any]

    @strawberry.field(description="How much work flows through the campaign.")
    async def throughput(self, info: Info) -> Throughput:
        f = await throughput_figures(info, self.source)
        return Throughput(
            progress=progress_from(f.steps, f.progress),
            tasks_by_step=[StepCount(step=Step.from_row(s), count=f.active_by_step.get(s.id, 0)) for s in f.shown_steps],
            annotation_submissions=_time_series(f.buckets, f.completions.submissions[StepType.ANNOTATION]),
            review_submissions=_time_series(f.buckets, f.completions.submissions[StepType.REVIEW]),
            assignments_by_worker=[WorkerCount(user=User.from_row(user), count=count) for user, count in f.workers],
            issues_created=_time_series(f.buckets, f.issues.created),
            issues_by_kind=[IssueKindCount(kind=kind, count=f.issues.by_kind.get(kind.value, 0))
                            for kind in IssueKind],
        )

    @strawberry.field(description="How long the work takes.")
    async def efficiency(self) -> Efficiency:
        figures, issues, buckets = await efficiency_figures(self.source)
        return Efficiency(
            task_duration=_stats(figures.all, self.source, "ALL"),
            issues_opened=issues.opened,
            issues_closed=issues.closed,
            annotation=_stats(figures.by_type[StepType.ANNOTATION], self.source, StepType.ANNOTATION.value),
            review=_stats(figures.by_type[StepType.REVIEW], self.source, StepType.REVIEW.value),
            annotation_time=_duration_series(buckets, figures.buckets[StepType.ANNOTATION]),
            review_time=_duration_series(buckets, figures.buckets[StepType.REVIEW]),
        )

    @strawberry.field(
        description="What the campaign's accepted annotations contain (those of its dataset version); "
        "`range`, `stepId` and `assigneeId` do not narrow it."
    )
    async def quality(
        self, info: Info,
        bins: Annotated[int | None, strawberry.argument(description="How many histogram bins, 1 to 100.")] = 10,
    ) -> Quality:
        return quality_from(*await quality_figures(info, self.source.campaign.version_id, bins))


def _time_series(buckets: list[int], counts: dict[int, int]) -> list[TimeBucket]:
    return [TimeBucket(start=as_datetime(b), count=counts.get(b, 0)) for b in buckets]


def _duration_series(buckets: list[int], sums: dict[int, list]) -> list[DurationBucket]:
    series = []
    for b in buckets:
        count, total = sums.get(b, (0, 0.0))
        series.append(DurationBucket(start=as_datetime(b), count=count, total_seconds=float(total),
                                     average_seconds=total / count if count else None))
    return series


def _stats(durations, source: Any, group: str) -> DurationStats:
    return DurationStats(
        count=durations.count, total_seconds=float(durations.total),
        average_seconds=durations.total / durations.count if durations.count else None,
        min_seconds=durations.minimum, max_seconds=durations.maximum, source=source, group=group)


def quality_from(figures, labels: list) -> Quality:
    """The Quality of a version's figures; every label of the version is listed (0 when unused)."""
    def histogram(bins_) -> list[HistogramBin]:
        return [HistogramBin(lower=b.lower, upper=b.upper, count=b.count) for b in bins_]

    return Quality(
        shapes_by_label=[LabelCount(label=Label.from_row(row), count=figures.shapes_by_label.get(row.id, 0))
                         for row in labels],
        assets_by_shape_count=histogram(figures.assets_by_shape_count),
        shape_areas=histogram(figures.shape_areas),
        asset_areas=histogram(figures.asset_areas),
    )
